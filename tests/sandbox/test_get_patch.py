"""GET by id and PATCH (JSON Patch add/replace, If-Match, Prefer, status table, read-only fields)."""

from __future__ import annotations

import pytest

from sandbox.partner_center import API_PREFIX
from sandbox.partner_center.odata import parse_datetime
from tests.sandbox.conftest import ACTIVE_ID, CLOSED_ID, CO_SELL_ID, RECEIVED_ID, SEED, Sim

ACCEPT = [
    {"op": "replace", "path": "/status", "value": "Active"},
    {"op": "replace", "path": "/substatus", "value": "Accepted"},
]
REPRESENTATION = {"Prefer": "return=representation"}


async def test_get_by_id_returns_entity_with_etag_header(sim: Sim) -> None:
    reply = await sim.get(f"{API_PREFIX}/{CO_SELL_ID}")
    assert reply.status == 200
    body = reply.json
    assert body["@odata.context"] == f"{sim.base}/v1.0/$metadata#Referrals/$entity"
    assert body["id"] == CO_SELL_ID
    assert reply.headers["ETag"] == SEED[0]["eTag"] == '"9a00c1d2-0000-0100-0000-67c5c8ad0000"'


async def test_get_unknown_id_is_404_item_not_found(sim: Sim) -> None:
    reply = await sim.get(f"{API_PREFIX}/00000000-0000-0000-0000-000000000000")
    assert reply.status == 404
    assert reply.json["error"]["code"] == "itemNotFound"
    patch = await sim.patch("00000000-0000-0000-0000-000000000000", ACCEPT)
    assert patch.status == 404


async def test_patch_without_prefer_is_204_and_changes_are_stored(sim: Sim) -> None:
    before = sim.store.get(CO_SELL_ID)
    assert before is not None
    reply = await sim.patch(
        CO_SELL_ID,
        [
            {"op": "replace", "path": "/details/notes", "value": "Called the customer"},
            {
                "op": "add",
                "path": "/team/-",
                "value": {
                    "email": "jane.doe@contoso.com",
                    "firstName": "Jane",
                    "lastName": "Doe",
                    "phoneNumber": "0000000001",
                },
            },
        ],
    )
    assert reply.status == 204
    assert reply.text == ""
    after = sim.store.get(CO_SELL_ID)
    assert after is not None
    assert after["details"]["notes"] == "Called the customer"
    assert after["team"][-1]["email"] == "jane.doe@contoso.com"
    assert after["eTag"] != before["eTag"]
    assert after["eTag"].startswith('"') and after["eTag"].endswith('"')
    assert parse_datetime(after["updatedDateTime"]) > parse_datetime(before["updatedDateTime"])
    assert len(after["updatedDateTime"].split(".")[1]) == 8  # 7 digits and Z


async def test_patch_with_return_representation_is_200_with_body(sim: Sim) -> None:
    reply = await sim.patch(CO_SELL_ID, ACCEPT, headers=REPRESENTATION)
    assert reply.status == 200
    body = reply.json
    assert (body["status"], body["substatus"]) == ("Active", "Accepted")
    assert reply.headers["ETag"] == body["eTag"]
    assert body["acceptedDateTime"] == body["updatedDateTime"]
    assert body["closedDateTime"] is None


async def test_every_change_gets_a_new_etag_and_later_updated_time(sim: Sim) -> None:
    etags, stamps = [], []
    for note in ("one", "two", "three"):
        body = (
            await sim.patch(
                CO_SELL_ID, [{"op": "replace", "path": "/details/notes", "value": note}], headers=REPRESENTATION
            )
        ).json
        etags.append(body["eTag"])
        stamps.append(parse_datetime(body["updatedDateTime"]))
    assert len(set(etags)) == 3
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


async def test_if_match_accepts_quoted_and_bare_etag(sim: Sim) -> None:
    etag = SEED[0]["eTag"]
    reply = await sim.patch(
        CO_SELL_ID,
        [{"op": "replace", "path": "/details/notes", "value": "a"}],
        headers={"If-Match": etag, **REPRESENTATION},
    )
    assert reply.status == 200
    new_etag = reply.json["eTag"]
    reply = await sim.patch(
        CO_SELL_ID,
        [{"op": "replace", "path": "/details/notes", "value": "b"}],
        headers={"If-Match": new_etag.strip('"')},
    )
    assert reply.status == 204


async def test_if_match_mismatch_is_412_resource_modified(sim: Sim) -> None:
    reply = await sim.patch(CO_SELL_ID, ACCEPT, headers={"If-Match": '"stale-etag"'})
    assert reply.status == 412
    error = reply.json["error"]
    assert error["code"] == "preconditionFailed"
    assert error["innerError"]["code"] == "resourceModified"
    stored = sim.store.get(CO_SELL_ID)
    assert stored is not None and stored["status"] == "New"


async def test_changed_in_partner_center_makes_old_etag_stale(sim: Sim) -> None:
    old = SEED[0]["eTag"]
    sim.store.update(CO_SELL_ID, {"details": {"notes": "edited by a Microsoft seller"}})
    reply = await sim.patch(CO_SELL_ID, ACCEPT, headers={"If-Match": old})
    assert reply.status == 412


async def test_close_sets_closed_date_time(sim: Sim) -> None:
    body = (
        await sim.patch(
            ACTIVE_ID,
            [
                {"op": "replace", "path": "/status", "value": "Closed"},
                {"op": "replace", "path": "/substatus", "value": "Won"},
            ],
            headers=REPRESENTATION,
        )
    ).json
    assert body["closedDateTime"] == body["updatedDateTime"]
    assert body["acceptedDateTime"] == "2025-05-02T12:30:00.0000000Z"  # unchanged


@pytest.mark.parametrize(
    ("referral_id", "status", "substatus"),
    [
        (ACTIVE_ID, "New", "Pending"),  # Active → New
        (CLOSED_ID, "Active", "Accepted"),  # Closed is terminal
        (CLOSED_ID, "Closed", "Won"),  # even within Closed
        (CO_SELL_ID, "Active", "Pending"),  # substatus not allowed for Active
        (CO_SELL_ID, "New", "Accepted"),  # substatus not allowed for New
        (CO_SELL_ID, "Closed", "Accepted"),  # substatus not allowed for Closed
        (RECEIVED_ID, "Closed", "Engaged"),  # unknown substatus
        (CO_SELL_ID, "Error", "None"),  # unknown status
    ],
)
async def test_illegal_transitions_are_400(sim: Sim, referral_id: str, status: str, substatus: str) -> None:
    reply = await sim.patch(
        referral_id,
        [
            {"op": "replace", "path": "/status", "value": status},
            {"op": "replace", "path": "/substatus", "value": substatus},
        ],
    )
    assert reply.status == 400, reply.text
    assert reply.json["error"]["code"] == "invalidRequest"


async def test_closed_referral_accepts_no_other_updates(sim: Sim) -> None:
    reply = await sim.patch(CLOSED_ID, [{"op": "replace", "path": "/externalReferenceId", "value": "CRM-1"}])
    assert reply.status == 400


@pytest.mark.parametrize(
    ("referral_id", "ops"),
    [
        (CO_SELL_ID, [{"op": "replace", "path": "/substatus", "value": "Received"}]),  # New/Pending → New/Received
        (
            RECEIVED_ID,
            [
                {"op": "replace", "path": "/status", "value": "Closed"},
                {"op": "replace", "path": "/substatus", "value": "Declined"},
                {"op": "replace", "path": "/statusReason", "value": "Not a customer"},
            ],
        ),
        (
            ACTIVE_ID,
            [
                {"op": "replace", "path": "/status", "value": "Closed"},
                {"op": "replace", "path": "/substatus", "value": "Lost"},
            ],
        ),
    ],
)
async def test_legal_transitions_are_accepted(sim: Sim, referral_id: str, ops: list[dict[str, str]]) -> None:
    assert (await sim.patch(referral_id, ops)).status == 204


@pytest.mark.parametrize(
    "path",
    [
        "/id",
        "/engagementId",
        "/organizationId",
        "/createdDateTime",
        "/type",
        "/direction",
        "/qualification",
        "/inviteContext/invitedBy",
        "/inviteContext/invitedBy/organizationId",
        "/eTag",
    ],
)
async def test_read_only_fields_are_400(sim: Sim, path: str) -> None:
    reply = await sim.patch(CO_SELL_ID, [{"op": "replace", "path": path, "value": "x"}])
    assert reply.status == 400
    assert "read-only" in reply.json["error"]["message"]


async def test_replacing_invite_context_must_keep_invited_by(sim: Sim) -> None:
    context = dict(SEED[0]["inviteContext"])
    context["notes"] = "new notes"
    ok = await sim.patch(CO_SELL_ID, [{"op": "replace", "path": "/inviteContext", "value": context}])
    assert ok.status == 204
    context["invitedBy"] = {"organizationId": "msft", "organizationName": "Microsoft"}
    bad = await sim.patch(CO_SELL_ID, [{"op": "replace", "path": "/inviteContext", "value": context}])
    assert bad.status == 400


async def test_deal_value_string_is_coerced_to_number(sim: Sim) -> None:
    body = (
        await sim.patch(
            CO_SELL_ID, [{"op": "replace", "path": "/details/dealValue", "value": "10000"}], headers=REPRESENTATION
        )
    ).json
    assert body["details"]["dealValue"] == 10000
    assert isinstance(body["details"]["dealValue"], int)
    body = (
        await sim.patch(
            CO_SELL_ID, [{"op": "replace", "path": "/details/dealValue", "value": "99.5"}], headers=REPRESENTATION
        )
    ).json
    assert body["details"]["dealValue"] == 99.5
    bad = await sim.patch(CO_SELL_ID, [{"op": "replace", "path": "/details/dealValue", "value": "lots"}])
    assert bad.status == 400


async def test_pascal_case_paths_are_accepted(sim: Sim) -> None:
    body = (
        await sim.patch(
            CO_SELL_ID, [{"op": "replace", "path": "/Consent/ConsentToContact", "value": False}], headers=REPRESENTATION
        )
    ).json
    assert body["consent"]["consentToContact"] is False
    assert "Consent" not in body


@pytest.mark.parametrize(
    "body",
    [
        {"op": "replace", "path": "/status", "value": "Active"},  # merge-style object, not an array
        {"status": "Active"},
        [],
        [{"op": "remove", "path": "/details/notes"}],
        [{"op": "move", "from": "/details/notes", "path": "/name"}],
        [{"op": "test", "path": "/status", "value": "New"}],
        [{"op": "copy", "from": "/name", "path": "/details/notes"}],
        [{"op": "replace", "value": "x"}],
        [{"op": "replace", "path": "/nope/deeper", "value": "x"}],
        [{"op": "replace", "path": "", "value": {}}],
        ["not an op"],
    ],
)
async def test_bad_patch_bodies_are_400(sim: Sim, body: object) -> None:
    reply = await sim.patch(CO_SELL_ID, body)
    assert reply.status == 400, reply.text
    assert reply.json["error"]["code"] == "invalidRequest"


async def test_patch_body_that_is_not_json_is_400(sim: Sim) -> None:
    reply = await sim.request(
        "PATCH", f"{API_PREFIX}/{CO_SELL_ID}", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400


async def test_patch_body_that_is_not_utf8_is_400(sim: Sim) -> None:
    reply = await sim.request(
        "PATCH", f"{API_PREFIX}/{CO_SELL_ID}", data=b"\xff\xfe[]", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400
    assert sim.log[-1]["status"] == 400
