"""Teams activities shaped like the real payloads in tests/data (docs samples and Agents Playground recordings)."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data"
_TEAMS = {e["name"]: e["activity"] for e in json.loads((DATA / "teams-activities.json").read_text())["examples"]}

BOT = {"id": "28:608cacfd-1cea-40c9-b678-4b93e69bb72b", "name": "Referral Radar"}
TENANT = "b28fdbfd-2b78-4f93-b0f8-8881793f0f8f"
TEAM = {
    "id": "19:team-general@thread.tacv2",
    "name": "Sales",
    "aadGroupId": "f3ec8cd2-e704-4344-8c47-9a3a21d683c0",
}
CHANNEL_ID = "19:sales-channel@thread.tacv2"
ADMIN = {"id": "29:admin-mri", "name": "Ada Admin", "aadObjectId": "aaaaaaaa-0000-0000-0000-000000000001"}
SELLER = {"id": "29:seller-mri", "name": "Sam Seller", "aadObjectId": "bbbbbbbb-0000-0000-0000-000000000002"}


class Teams:
    """Builds activities for one fake tenant whose serviceUrl is the loopback connector."""

    def __init__(self, service_url: str) -> None:
        self.service_url = service_url

    def _base(
        self, kind: str, conversation: dict[str, Any], user: dict[str, Any], channel_data: dict[str, Any]
    ) -> dict[str, Any]:
        return {
            "type": kind,
            "id": str(uuid.uuid4()),
            "timestamp": "2026-11-22T08:00:00.000Z",
            "channelId": "msteams",
            "serviceUrl": self.service_url,
            "from": dict(user),
            "recipient": dict(BOT),
            "conversation": conversation,
            "channelData": channel_data,
            "locale": "en-US",
            "entities": [{"type": "clientInfo", "locale": "en-US", "platform": "Web"}],
        }

    def personal_conversation(self, user: dict[str, Any]) -> dict[str, Any]:
        return {"conversationType": "personal", "tenantId": TENANT, "id": f"a:personal-{user['id']}"}

    def message(
        self,
        text: str,
        *,
        where: str = "personal",
        user: dict[str, Any] = SELLER,
        mention: bool | None = None,
        thread: str | None = None,
    ) -> dict[str, Any]:
        """A message in `where` = personal | groupChat | channel; group and channel messages @mention the bot."""
        mention = where != "personal" if mention is None else mention
        if where == "personal":
            conversation = self.personal_conversation(user)
            data: dict[str, Any] = {"tenant": {"id": TENANT}}
        elif where == "groupChat":
            conversation = {
                "isGroup": True,
                "conversationType": "groupChat",
                "tenantId": TENANT,
                "id": "19:group-chat@thread.v2",
            }
            data = {"tenant": {"id": TENANT}}
        else:
            root = thread or "1759881511856"
            conversation = {
                "isGroup": True,
                "conversationType": "channel",
                "tenantId": TENANT,
                "id": f"{CHANNEL_ID};messageid={root}",
            }
            data = {
                "teamsChannelId": CHANNEL_ID,
                "teamsTeamId": TEAM["id"],
                "channel": {"id": CHANNEL_ID},
                "team": {"id": TEAM["id"]},
                "tenant": {"id": TENANT},
            }
        activity = self._base("message", conversation, user, data)
        activity["textFormat"] = "plain"
        if mention:
            tag = f"<at>{BOT['name']}</at>"
            activity["text"] = f"{tag} {text}"
            activity["entities"].append({"type": "mention", "mentioned": dict(BOT), "text": tag})
        else:
            activity["text"] = text
        return activity

    def bot_added_to_team(self, channel_id: str = CHANNEL_ID, *, user: dict[str, Any] = ADMIN) -> dict[str, Any]:
        activity = copy.deepcopy(_TEAMS["conversationUpdate_bot_added_to_team"])
        activity.update(serviceUrl=self.service_url, recipient=dict(BOT), membersAdded=[{"id": BOT["id"]}])
        activity["from"] = dict(user)
        activity["conversation"].update(id=channel_id, tenantId=TENANT, name="Sales")
        activity["channelData"].update(
            settings={"selectedChannel": {"id": channel_id}}, team=dict(TEAM), tenant={"id": TENANT}
        )
        return activity

    def installation(self, action: str = "add", channel_id: str = CHANNEL_ID) -> dict[str, Any]:
        activity = copy.deepcopy(_TEAMS["installationUpdate_add_in_team"])
        activity.update(serviceUrl=self.service_url, recipient=dict(BOT), action=action)
        activity["from"] = dict(ADMIN)
        activity["conversation"].update(id=channel_id, tenantId=TENANT)
        activity["channelData"].update(
            settings={"selectedChannel": {"id": channel_id}},
            channel={"id": channel_id},
            team=dict(TEAM),
            tenant={"id": TENANT},
        )
        return activity

    def personal_install(self, user: dict[str, Any]) -> dict[str, Any]:
        activity = self._base("conversationUpdate", self.personal_conversation(user), user, {"tenant": {"id": TENANT}})
        activity["membersAdded"] = [{"id": user["id"], "aadObjectId": user["aadObjectId"]}, {"id": BOT["id"]}]
        return activity

    def invoke(
        self,
        verb: str | None,
        data: Any,
        *,
        reply_to_id: str,
        where: str = "channel",
        user: dict[str, Any] = SELLER,
        root: str | None = None,
    ) -> dict[str, Any]:
        """An `adaptiveCard/action` invoke, as Teams sends it when someone presses an Action.Execute button."""
        if where == "personal":
            conversation = self.personal_conversation(user)
            data_ = {"tenant": {"id": TENANT}, "source": {"name": "message"}}
        else:
            conversation = {
                "isGroup": True,
                "conversationType": "channel",
                "tenantId": TENANT,
                "id": f"{CHANNEL_ID};messageid={root or reply_to_id}",
            }
            data_ = {
                "channel": {"id": CHANNEL_ID},
                "team": {"id": TEAM["id"]},
                "tenant": {"id": TENANT},
                "source": {"name": "message"},
            }
        activity = self._base("invoke", conversation, user, data_)
        action: dict[str, Any] = {"type": "Action.Execute", "title": verb or "?", "data": data}
        if verb is not None:
            action["verb"] = verb
        activity.update(
            name="adaptiveCard/action", replyToId=reply_to_id, value={"action": action, "trigger": "manual"}
        )
        return activity
