"""The one module that knows botbuilder (Bot Framework SDK 4.17, archived).

Everything else in the bot speaks in `Reply`, `Caller`, `ConversationInfo` and plain card dicts, so moving to the
Teams SDK or the Agents SDK later touches this file only. It also contains the SDK's three known defects:

1. `CloudAdapter.process()` answers every invoke that has a body with HTTP 500 (it serialises an already-serialised
   dict). We run our own aiohttp handler and return the invoke body as JSON with its status.
2. `CloudAdapter.process()` turns malformed or expired tokens into HTTP 500. We authenticate first ourselves and
   answer 401 for *any* authentication failure.
3. `ConversationReference` loses the tenant id (`tenantId` vs `tenantID`). We copy `channelData.tenant.id` into
   `conversation.tenant_id` before a reference is taken, and put it back when a stored reference is used.

Also: exceptions raised inside proactive callbacks are swallowed by `on_turn_error`, so proactive work captures
its own outcome and re-raises it outside the SDK's pipeline.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from botbuilder.core import CardFactory, InvokeResponse, MessageFactory, TurnContext
from botbuilder.core.teams import TeamsActivityHandler
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import (
    Activity,
    ActivityTypes,
    ChannelAccount,
    ConversationAccount,
    ConversationParameters,
    ConversationReference,
    ErrorResponseException,
)
from botframework.connector.auth import BotFrameworkAuthentication, ConnectorFactory
from msrest.exceptions import ClientRequestError

from bot import messages
from bot.router import CHANNEL, Caller, Reply
from core.errors import ConfigError, DeliveryError
from core.settings import Settings
from poller.client import parse_retry_after
from storage.types import json_text

log = logging.getLogger(__name__)

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
_ANONYMOUS_APP_ID = "anonymous-bot"  # any non-empty id works when inbound auth is off


@dataclass(frozen=True)
class ConversationInfo:
    """What we keep about a conversation the bot is in, taken from an incoming activity."""

    conversation_id: str  # for channels: the channel id, without ";messageid=…"
    conversation_type: str
    service_url: str
    reference: dict[str, Any]
    tenant_id: str | None = None
    team_id: str | None = None
    team_name: str | None = None
    channel_name: str | None = None
    user_aad_object_id: str | None = None
    channel_ids: tuple[str, ...] = ()


class TurnLogic(Protocol):
    """The bot's behaviour, free of botbuilder (implemented by `bot.turns.Turns`)."""

    async def remember(self, info: ConversationInfo, *, force: bool = False) -> None: ...

    async def installed(self, info: ConversationInfo, conversation: TurnConversation) -> None: ...

    async def uninstalled(self, info: ConversationInfo) -> None: ...

    async def message(self, text: str, caller: Caller, conversation: TurnConversation) -> None: ...

    async def card_action(
        self, action: dict[str, Any], caller: Caller, conversation: TurnConversation
    ) -> dict[str, Any]: ...


# ---------------------------------------------------------------------------------------------------------------
# Configuration


class _SdkConfig:
    """Attribute names are what `ConfigurationBotFrameworkAuthentication` reads."""

    def __init__(self, settings: Settings) -> None:
        self.APP_ID = settings.bot_id
        self.APP_PASSWORD = settings.bot_password
        self.APP_TYPE = settings.bot_type if settings.bot_id else "MultiTenant"
        self.APP_TENANTID = settings.bot_tenant_id


class _CachedConnectors(ConnectorFactory):
    """Reuses connector clients: building one costs ~7 ms in msrest (a 999 x 500 list scan per retry policy)."""

    def __init__(self, inner: ConnectorFactory, app_id: str, cache: dict[tuple[str, str | None, str], Any]) -> None:
        self._inner = inner
        self._app_id = app_id
        self._cache = cache

    async def create(self, service_url: str, audience: str | None = None) -> Any:
        key = (service_url, audience, self._app_id)
        client = self._cache.get(key)
        if client is None:
            client = self._cache[key] = await self._inner.create(service_url, audience)
            client.config.retry_policy.retries = 0  # our dispatcher retries, honouring Retry-After; no hidden retries
        return client


class _Authentication(BotFrameworkAuthentication):
    """Delegates to the SDK's configuration-based authentication, with connector clients cached."""

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner
        self._connectors: dict[tuple[str, str | None, str], Any] = {}
        self._token_clients: dict[str, Any] = {}

    def _cached(self, factory: ConnectorFactory, claims: Any) -> ConnectorFactory:
        values = getattr(claims, "claims", None) or {}
        app_id = str(values.get("appid") or values.get("aud") or "")
        return _CachedConnectors(factory, app_id, self._connectors)

    async def authenticate_request(self, activity: Activity, auth_header: str) -> Any:
        result = await self._inner.authenticate_request(activity, auth_header)
        if result.connector_factory is not None:
            result.connector_factory = self._cached(result.connector_factory, result.claims_identity)
        return result

    async def authenticate_streaming_request(self, auth_header: str, channel_id_header: str) -> Any:
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity: Any) -> ConnectorFactory:
        return self._cached(self._inner.create_connector_factory(claims_identity), claims_identity)

    async def create_user_token_client(self, claims_identity: Any) -> Any:
        """The SDK builds one per turn (another ~7 ms of msrest set-up) though this bot never uses OAuth cards."""
        values = getattr(claims_identity, "claims", None) or {}
        key = str(values.get("appid") or values.get("aud") or "")
        if key not in self._token_clients:
            self._token_clients[key] = await self._inner.create_user_token_client(claims_identity)
        return self._token_clients[key]

    def create_bot_framework_client(self) -> Any:
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self) -> str:
        audience: str = self._inner.get_originating_audience()
        return audience

    async def authenticate_channel_request(self, auth_header: str) -> Any:
        return await self._inner.authenticate_channel_request(auth_header)


def build_adapter(settings: Settings) -> CloudAdapter:
    if settings.bot_id and settings.bot_type.lower() == "singletenant" and not settings.bot_tenant_id:
        raise ConfigError("BOT_TYPE=SingleTenant needs BOT_TENANT_ID (the Azure Bot's Entra tenant id).")
    if settings.bot_id and settings.bot_type.lower() != "userassignedmsi" and not settings.bot_password:
        raise ConfigError("BOT_ID is set but BOT_PASSWORD is empty.")
    adapter = CloudAdapter(_Authentication(ConfigurationBotFrameworkAuthentication(_SdkConfig(settings))))
    adapter.on_turn_error = _on_turn_error
    return adapter


async def _on_turn_error(turn_context: TurnContext, error: Exception) -> None:
    log.error("unhandled error in a bot turn", exc_info=error)
    if turn_context.activity.type == ActivityTypes.message:  # never post into a channel for event/invoke turns
        try:
            await turn_context.send_activity(messages.INTERNAL_ERROR)
        except Exception:  # the connector itself may be what failed
            log.warning("could not tell the user about the error", exc_info=True)


# ---------------------------------------------------------------------------------------------------------------
# Inbound: POST /api/messages


def messages_handler(adapter: CloudAdapter, bot: TeamsBot) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def authenticate(activity: Activity, header: str) -> Any | None:
        try:
            return await adapter.bot_framework_authentication.authenticate_request(activity, header)
        except Exception as exc:  # defect 2: every auth failure is a 401, whatever the SDK raised
            log.info("inbound activity refused: %s", type(exc).__name__)
            return None

    async def handle(request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        read = await _read_activity(request)
        if isinstance(read, web.Response):
            # Not an activity: still, without a valid token the answer is 401 (the token is checked without
            # the serviceUrl claim, which only an activity could name); with one, or with auth off, the problem.
            return read if await authenticate(Activity(), header) is not None else _problem(401, "Unauthorized.")
        activity = read
        auth = await authenticate(activity, header)
        if auth is None:
            return _problem(401, "Unauthorized.")
        response = await adapter.process_activity(auth, activity, bot.on_turn)
        if response is None:
            return web.Response(status=201)
        payload = response.body.serialize() if hasattr(response.body, "serialize") else response.body
        return web.json_response(payload, status=response.status or 200)  # defect 1

    return handle


async def _read_activity(request: web.Request) -> Activity | web.Response:
    """The request's activity, or the 4xx answer that says why there is none."""
    if "json" not in (request.content_type or ""):
        return _problem(415, "Send the activity as application/json.")
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply to parse
        return _problem(400, "The body is not valid JSON.")
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        return _problem(400, "The body is not a Bot Framework activity (it needs a string 'type').")
    try:
        activity = Activity().deserialize(body)
    except Exception:
        return _problem(400, "The activity could not be read.")
    setattr(activity, _WIRE_BODY, body)
    return activity


def _problem(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


# ---------------------------------------------------------------------------------------------------------------
# The activity handler: turns botbuilder activities into calls on `TurnLogic`


class TeamsBot(TeamsActivityHandler):
    def __init__(self, logic: TurnLogic, adapter: CloudAdapter, app_id: str) -> None:
        self._logic = logic
        self._adapter = adapter
        self._app_id = app_id or _ANONYMOUS_APP_ID
        self._http: ClientSession | None = None

    async def start(self) -> None:
        self._http = ClientSession(timeout=ClientTimeout(total=15))

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def on_turn(self, turn_context: TurnContext) -> None:
        _keep_tenant(turn_context.activity)  # defect 3
        if turn_context.activity.conversation and turn_context.activity.service_url:
            await self._logic.remember(conversation_info(turn_context.activity))
        await super().on_turn(turn_context)

    def _conversation(self, turn_context: TurnContext) -> TurnConversation:
        return TurnConversation(turn_context, self._adapter, self._app_id, self._http)

    async def on_message_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        if not (activity.text or "").strip() and isinstance(activity.value, dict):
            # An Action.Submit fallback from an old client: same verbs as Action.Execute, answered by a message.
            card = await self._logic.card_action(
                {"verb": activity.value.get("verb"), "data": dict(activity.value)},
                caller_of(activity),
                self._conversation(turn_context),
            )
            await turn_context.send_activity(_card_activity(card))
            return
        await self._logic.message(
            _text_without_mention(activity), caller_of(activity), self._conversation(turn_context)
        )

    async def on_invoke_activity(self, turn_context: TurnContext) -> InvokeResponse:
        activity = turn_context.activity
        if activity.name != "adaptiveCard/action":
            return InvokeResponse(status=200, body={})
        value = activity.value if isinstance(activity.value, dict) else {}
        raw_action = value.get("action")
        action: dict[str, Any] = raw_action if isinstance(raw_action, dict) else {}
        card = await self._logic.card_action(action, caller_of(activity), self._conversation(turn_context))
        return InvokeResponse(status=200, body={"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card})

    async def on_conversation_update_activity(self, turn_context: TurnContext) -> None:
        activity = turn_context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        info = conversation_info(activity)
        if any(m.id == bot_id for m in activity.members_added or []):
            await self._logic.installed(info, self._conversation(turn_context))
        elif any(m.id == bot_id for m in activity.members_removed or []):
            await self._logic.uninstalled(info)

    async def on_installation_update_add(self, turn_context: TurnContext) -> None:
        # The conversationUpdate that comes with it says hello; here we only make sure the reference is stored.
        await self._logic.remember(conversation_info(turn_context.activity), force=True)

    async def on_installation_update_remove(self, turn_context: TurnContext) -> None:
        await self._logic.uninstalled(conversation_info(turn_context.activity))


def _text_without_mention(activity: Activity) -> str:
    """The message text without the bot's @mention. The SDK's stripping raises on a malformed mention entity
    (`mentioned` null, not an object, no type); the router drops `<at>` tags itself, so the text as sent will do."""
    try:
        return TurnContext.remove_recipient_mention(activity) or activity.text or ""
    except (AttributeError, TypeError, KeyError):
        return activity.text or ""


def _obj(value: Any) -> dict[str, Any]:
    """A channelData part as a dict; anything else (a client sending `"team": "x"`) as empty."""
    return value if isinstance(value, dict) else {}


def _keep_tenant(activity: Activity) -> None:
    tenant = (activity.channel_data or {}).get("tenant") if isinstance(activity.channel_data, dict) else None
    tenant_id = (tenant or {}).get("id") if isinstance(tenant, dict) else None
    if activity.conversation is not None:
        extra = getattr(activity.conversation, "additional_properties", None) or {}
        tenant_id = tenant_id or extra.get("tenantId")
        if tenant_id and not activity.conversation.tenant_id:
            activity.conversation.tenant_id = tenant_id


def caller_of(activity: Activity) -> Caller:
    sender = activity.from_property or ChannelAccount()
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    conversation = activity.conversation or ConversationAccount()
    return Caller(
        name=sender.name,
        aad_object_id=sender.aad_object_id,
        user_id=sender.id,
        conversation_type=conversation.conversation_type or "personal",
        conversation_id=conversation.id or "",
        tenant_id=conversation.tenant_id,
        team_id=_obj(data.get("team")).get("id"),
        channel_id=_channel_id(activity),
    )


def _channel_id(activity: Activity) -> str | None:
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    conversation = activity.conversation or ConversationAccount()
    if conversation.conversation_type != CHANNEL:
        return None
    return _obj(data.get("channel")).get("id") or (conversation.id or "").split(";messageid=")[0] or None


_WIRE_BODY = "_wire_body"  # the JSON an incoming activity was read from, kept on it by `messages_handler`
_REFERENCE_PARTS = (("user", "from"), ("bot", "recipient"), ("conversation", "conversation"))


def reference_of(activity: Activity) -> dict[str, Any]:
    """The activity's conversation reference as Bot Connector JSON, what
    `TurnContext.get_conversation_reference(activity).serialize()` gives, but with the tenant id spelled
    `tenantId` as on the wire (the SDK writes `tenantID`, defect 3). For an activity that came in through
    /api/messages it is read off the wire body: msrest's walk costs ~0.3 ms a call and a turn needs two."""
    wire = getattr(activity, _WIRE_BODY, None)
    if not isinstance(wire, dict) or not all(isinstance(wire.get(key), dict) for _, key in _REFERENCE_PARTS):
        return dict(TurnContext.get_conversation_reference(activity).serialize())
    reference: dict[str, Any] = {name: dict(wire[key]) for name, key in _REFERENCE_PARTS}
    channel_id = wire.get("channelId")
    # the SDK's rule: no activity id for a conversationUpdate or from Direct Line / Web Chat
    if wire.get("type") != ActivityTypes.conversation_update and channel_id not in ("directline", "webchat"):
        reference["activityId"] = wire.get("id")
    reference.update(channelId=channel_id, locale=wire.get("locale"), serviceUrl=wire.get("serviceUrl"))
    if activity.conversation is not None and activity.conversation.tenant_id:  # defect 3: maybe only in channelData
        reference["conversation"]["tenantId"] = activity.conversation.tenant_id
    return {key: value for key, value in reference.items() if value is not None}


def conversation_info(activity: Activity) -> ConversationInfo:
    _keep_tenant(activity)
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    team = _obj(data.get("team"))
    conversation = activity.conversation or ConversationAccount()
    kind = conversation.conversation_type or "personal"
    base_id = (conversation.id or "").split(";messageid=")[0]
    reference = reference_of(activity)
    reference["conversation"] = {**reference.get("conversation", {}), "id": base_id}
    if conversation.tenant_id:
        reference["conversation"]["tenantId"] = conversation.tenant_id
    reference.pop("activityId", None)
    selected = _obj(_obj(data.get("settings")).get("selectedChannel")).get("id")
    channel_ids = tuple(
        c
        for c in {
            base_id if kind == CHANNEL else None,
            _obj(data.get("channel")).get("id"),
            selected,
            team.get("id"),
        }
        if c
    )
    sender = activity.from_property or ChannelAccount()
    return ConversationInfo(
        conversation_id=base_id,
        conversation_type=kind,
        service_url=activity.service_url or "",
        reference=reference,
        tenant_id=conversation.tenant_id,
        team_id=team.get("id"),
        team_name=team.get("name"),
        channel_name=conversation.name if kind == CHANNEL else None,
        user_aad_object_id=sender.aad_object_id if kind == "personal" else None,
        channel_ids=channel_ids if kind == CHANNEL else (),
    )


def _card_activity(card: dict[str, Any], text: str | None = None) -> Activity:
    activity = MessageFactory.attachment(CardFactory.adaptive_card(card))
    if text:
        activity.text = text
    return activity


def _reply_body(reply: Reply) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "message", "inputHint": "acceptingInput"}
    if reply.text:
        body.update(text=reply.text, textFormat="markdown")
    if reply.card is not None:
        body["attachments"] = [{"contentType": CARD_CONTENT_TYPE, "content": reply.card}]
    return body


async def _connector_auth(turn_context: TurnContext) -> dict[str, str]:
    """The Authorization header for a Bot Connector call in this turn ({} when auth is off, for local tools)."""
    connector = turn_context.turn_state.get(CloudAdapter.BOT_CONNECTOR_CLIENT_KEY)
    credentials = getattr(getattr(connector, "config", None), "credentials", None)
    if not getattr(credentials, "microsoft_app_id", None):
        return {}
    token = await asyncio.to_thread(credentials.get_access_token)  # type: ignore[union-attr]
    return {"Authorization": f"Bearer {token}"}


async def _post_reply(http: ClientSession, turn_context: TurnContext, reply: Reply) -> None:
    """Answer in the turn's conversation with one plain JSON POST to the Bot Connector.

    Same REST call as `TurnContext.send_activity`, without its deep copy of the card and msrest's walk over
    every string in it (about 8 ms of CPU per card, most of a command's cost).
    """
    incoming = turn_context.activity
    reference = reference_of(incoming)
    body = _reply_body(reply)
    body.update(
        {
            "from": reference.get("bot"),
            "recipient": reference.get("user"),
            "conversation": reference.get("conversation"),
            "channelId": incoming.channel_id,
            "serviceUrl": incoming.service_url,
            "locale": incoming.locale,
        }
    )
    conversation = quote(incoming.conversation.id, safe="")
    url = f"{incoming.service_url.rstrip('/')}/v3/conversations/{conversation}/activities"
    if incoming.id:
        body["replyToId"] = incoming.id
        url += "/" + quote(incoming.id, safe="")
    headers = {"Content-Type": "application/json", **await _connector_auth(turn_context)}
    try:
        async with http.post(url, data=json_text(body), headers=headers) as response:
            if response.status >= 300:
                retry_after = _retry_after(response.headers.get("Retry-After"))
                raise DeliveryError(
                    f"Bot Connector answered {response.status}",
                    status=response.status,
                    retry_after=retry_after,
                )
    except (ClientError, TimeoutError) as exc:
        raise DeliveryError(f"Bot Connector unreachable: {type(exc).__name__}: {exc}") from exc


def reply_activity(reply: Reply) -> Activity:
    if reply.card is not None:
        return _card_activity(reply.card, reply.text)
    activity = MessageFactory.text(reply.text or "")
    activity.text_format = "markdown"
    return activity


# ---------------------------------------------------------------------------------------------------------------
# Talking back: inside a turn, and proactively


class TurnConversation:
    """`bot.router.Conversation` over a live TurnContext."""

    def __init__(
        self, turn_context: TurnContext, adapter: CloudAdapter, app_id: str, http: ClientSession | None = None
    ) -> None:
        self.turn_context = turn_context
        self._adapter = adapter
        self._app_id = app_id
        self._http = http
        self._reference = TurnContext.get_conversation_reference(turn_context.activity)

    @property
    def reply_to_id(self) -> str | None:
        """The id of the message holding the card, on an invoke."""
        value: str | None = self.turn_context.activity.reply_to_id
        return value

    async def send(self, reply: Reply) -> None:
        incoming = self.turn_context.activity
        if self._http is None or incoming.delivery_mode == "expectReplies":
            await self.turn_context.send_activity(reply_activity(reply))
            return
        await _post_reply(self._http, self.turn_context, reply)

    async def typing(self) -> None:
        await self.turn_context.send_activity(Activity(type=ActivityTypes.typing))

    async def team_channel_ids(self, team_id: str) -> tuple[str, ...]:
        """The ids of the team's channels (Bot Connector `GET /v3/teams/{id}/conversations`); () when refused.

        Plain aiohttp: the SDK's `TeamsInfo.get_team_channels` makes a blocking msrest call on the event loop.
        """
        service_url = (self.turn_context.activity.service_url or "").rstrip("/")
        if self._http is None or not service_url:
            return ()
        url = f"{service_url}/v3/teams/{quote(team_id, safe='')}/conversations"
        try:
            async with self._http.get(url, headers=await _connector_auth(self.turn_context)) as response:
                body = await response.json(content_type=None) if response.status == 200 else None
        except (ClientError, TimeoutError, ValueError) as exc:
            body, response_error = None, repr(exc)[:200]
        else:
            response_error = f"HTTP {response.status}"
        channels = body.get("conversations") if isinstance(body, dict) else None
        if not isinstance(channels, list):
            log.warning("could not list the team's channels", extra={"team_id": team_id, "error": response_error})
            return ()
        return tuple(c["id"] for c in channels if isinstance(c, dict) and isinstance(c.get("id"), str))

    async def update_card(self, activity_id: str, card: dict[str, Any]) -> None:
        """Edit a message of this conversation (the card someone pressed a button on)."""
        activity = _card_activity(card)
        activity.id = activity_id
        await self.turn_context.update_activity(activity)

    def follow_up(self, work: Callable[[], Awaitable[Reply | None]]) -> None:
        reference = self._reference
        adapter, app_id = self._adapter, self._app_id

        async def run() -> None:
            try:
                reply = await work()
            except Exception:
                log.exception("background work after a command failed")
                reply = Reply(text=messages.INTERNAL_ERROR)
            if reply is None:
                return
            try:
                await _send_proactive(adapter, app_id, reference, reply_activity(reply))
            except DeliveryError:
                log.exception("could not post a follow-up reply")

        spawn(run())


_background: set[asyncio.Task[Any]] = set()


def spawn(coro: Awaitable[Any]) -> asyncio.Task[Any]:
    """Run `coro` in the background, keeping a reference so it is not collected mid-flight."""
    task: asyncio.Task[Any] = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


async def cancel_background() -> None:
    for task in list(_background):
        task.cancel()
    await asyncio.gather(*_background, return_exceptions=True)


def _restore_reference(stored: dict[str, Any]) -> ConversationReference:
    reference = ConversationReference().deserialize(stored)
    tenant = (stored.get("conversation") or {}).get("tenantId")
    if tenant and reference.conversation is not None:
        reference.conversation.tenant_id = tenant
    return reference


def _delivery_error(exc: Exception) -> DeliveryError:
    if isinstance(exc, ErrorResponseException) and exc.response is not None:
        status = exc.response.status_code
        retry_after = _retry_after(exc.response.headers.get("Retry-After"))
        return DeliveryError(f"Bot Connector answered {status}", status=status, retry_after=retry_after)
    return DeliveryError(f"Bot Connector unreachable: {type(exc).__name__}: {exc}")


def _retry_after(value: str | None) -> float | None:
    """Delta-seconds or an HTTP-date, as RFC 9110 allows (the poller's parser)."""
    return parse_retry_after(value)


_CONNECTOR_ERRORS = (ErrorResponseException, ClientRequestError, ClientError, asyncio.TimeoutError, OSError)


async def _send_proactive(
    adapter: CloudAdapter, app_id: str, reference: ConversationReference, activity: Activity
) -> str:
    outcome: dict[str, Any] = {}

    async def callback(turn_context: TurnContext) -> None:
        try:
            response = await turn_context.send_activity(activity)
            outcome["id"] = response.id if response else ""
        except Exception as exc:  # defect 4: on_turn_error would swallow it
            outcome["error"] = exc

    await adapter.continue_conversation(reference, callback, app_id)
    if "error" in outcome:
        error = outcome["error"]
        raise _delivery_error(error) if isinstance(error, _CONNECTOR_ERRORS) else error
    return str(outcome.get("id", ""))


class Proactive:
    """Sends, posts and edits outside a turn, from stored references. Raises `DeliveryError`."""

    def __init__(self, adapter: CloudAdapter, app_id: str) -> None:
        self._adapter = adapter
        self._app_id = app_id or _ANONYMOUS_APP_ID

    async def send(self, reference: dict[str, Any], reply: Reply) -> str:
        """Post into the conversation (a reply in the thread when the reference names one); returns the id."""
        return await _send_proactive(self._adapter, self._app_id, _restore_reference(reference), reply_activity(reply))

    async def post_thread(self, reference: dict[str, Any], channel_id: str, card: dict[str, Any]) -> str:
        """Start a new thread in a Teams channel with `card`; returns the new root message id."""
        ref = _restore_reference(reference)
        tenant_id = ref.conversation.tenant_id if ref.conversation else None
        parameters = ConversationParameters(
            is_group=True,
            bot=ref.bot,
            tenant_id=tenant_id,
            channel_data={
                "channel": {"id": channel_id},
                **({"tenant": {"id": tenant_id}} if tenant_id else {}),
            },
            activity=_card_activity(card),
        )
        created: dict[str, str] = {}

        async def callback(turn_context: TurnContext) -> None:
            created["id"] = turn_context.activity.id or ""

        try:
            await self._adapter.create_conversation(
                self._app_id, callback, parameters, ref.channel_id or "msteams", ref.service_url
            )
        except _CONNECTOR_ERRORS as exc:
            raise _delivery_error(exc) from exc
        if not created.get("id"):
            raise DeliveryError("Bot Connector did not return the new message id")
        return created["id"]

    async def update(
        self, reference: dict[str, Any], conversation_id: str, activity_id: str, card: dict[str, Any]
    ) -> None:
        """Edit message `activity_id` of `conversation_id` to show `card`."""
        ref = _restore_reference(reference)
        if ref.conversation is not None:
            ref.conversation.id = conversation_id
        activity = _card_activity(card)
        activity.id = activity_id
        outcome: dict[str, Exception] = {}

        async def callback(turn_context: TurnContext) -> None:
            try:
                await turn_context.update_activity(activity)
            except Exception as exc:  # defect 4 again
                outcome["error"] = exc

        await self._adapter.continue_conversation(ref, callback, self._app_id)
        if "error" in outcome:
            error = outcome["error"]
            raise _delivery_error(error) if isinstance(error, _CONNECTOR_ERRORS) else error

    async def reply_in_thread(self, reference: dict[str, Any], channel_id: str, root_id: str, reply: Reply) -> str:
        ref = dict(reference)
        ref["conversation"] = {**reference.get("conversation", {}), "id": f"{channel_id};messageid={root_id}"}
        return await self.send(ref, reply)
