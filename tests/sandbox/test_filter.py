"""`$filter` and `$orderby`: the parser on its own, then through HTTP against the seed referrals."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandbox.partner_center import odata
from tests.sandbox.conftest import (
    ACTIVE_ID,
    CLOSED_ID,
    CO_SELL_ID,
    MARKETPLACE_ID,
    RECEIVED_ID,
    Sim,
    SimFactory,
)


def test_parser_builds_and_of_comparisons_with_parentheses() -> None:
    node = odata.parse_filter("(direction eq 'Incoming' and substatus eq 'Pending') and type eq 'Shared'")
    assert isinstance(node, odata.And)
    assert len(node.parts) == 2
    inner = node.parts[0]
    assert isinstance(inner, odata.And)
    assert inner.parts[0] == odata.Comparison(("direction",), "eq", odata.Literal("Incoming", "string"))


def test_parser_reads_unquoted_guid_nested_path_and_dates() -> None:
    guid = odata.parse_filter("engagementId eq 1352E03D-0000-4000-8000-00000000ABCD")
    assert guid == odata.Comparison(
        ("engagementId",), "eq", odata.Literal("1352e03d-0000-4000-8000-00000000abcd", "guid")
    )
    nested = odata.parse_filter("customerProfile/address/country eq 'GB'")
    assert isinstance(nested, odata.Comparison)
    assert nested.path == ("customerProfile", "address", "country")
    quoted = odata.parse_filter("updatedDateTime gt '2025-03-03T15:12:45.1234567Z'")
    bare = odata.parse_filter("updatedDateTime gt 2025-03-03T15:12:45.1234567Z")
    expected = datetime(2025, 3, 3, 15, 12, 45, 123456, tzinfo=UTC)
    assert isinstance(quoted, odata.Comparison) and quoted.literal.value == expected
    assert isinstance(bare, odata.Comparison) and bare.literal.value == expected


def test_string_literal_with_escaped_quote() -> None:
    node = odata.parse_filter("name eq 'O''Brien'")
    assert isinstance(node, odata.Comparison)
    assert node.literal.value == "O'Brien"


@pytest.mark.parametrize(
    "text",
    [
        "status eq 'New' or status eq 'Active'",
        "status ne 'New'",
        "status eq",
        "(status eq 'New'",
        "status eq 'New')",
        "status eq 'New' and",
        "contains(name, 'x')",
        "status gt 'New'",
        "dealValue gt 5",
        "status eq 'unterminated",
        "status eq New",
        "status == 'New'",
        "",
    ],
)
def test_unsupported_or_broken_filters_raise(text: str) -> None:
    with pytest.raises(odata.ODataError):
        odata.parse_filter(text)


def test_orderby_parsing() -> None:
    assert odata.parse_orderby("createdDateTime desc, updatedDateTime") == [
        odata.OrderBy("createdDateTime", True),
        odata.OrderBy("updatedDateTime", False),
    ]
    for bad in ("name desc", "createdDateTime sideways", "createdDateTime desc extra"):
        with pytest.raises(odata.ODataError):
            odata.parse_orderby(bad)


async def _ids(sim: Sim, **params: str) -> list[str]:
    reply = await sim.get(params={f"${k}": v for k, v in params.items()})
    assert reply.status == 200, reply.text
    return [item["id"] for item in reply.json["value"]]


async def test_eq_on_top_level_field(sim: Sim) -> None:
    assert set(await _ids(sim, filter="status eq 'New'")) == {CO_SELL_ID, MARKETPLACE_ID, RECEIVED_ID}


async def test_and_with_parentheses_documented_example(sim: Sim) -> None:
    ids = await _ids(
        sim, filter="(direction eq 'Incoming' and substatus eq 'Pending')", top="10", orderby="createdDateTime desc"
    )
    assert ids == [MARKETPLACE_ID, CO_SELL_ID]


async def test_documented_inbound_co_sell_recipe(sim: Sim) -> None:
    assert await _ids(sim, filter="type eq 'Shared' and direction eq 'Incoming'") == [CO_SELL_ID]


async def test_unquoted_guid_matches_engagement_id(sim: Sim) -> None:
    ids = await _ids(sim, filter="engagementId eq B1C40BB4-6D36-4ECA-BAA3-E1460CF2A454")
    assert ids == [CLOSED_ID]
    assert await _ids(sim, filter="engagementId eq 'b1c40bb4-6d36-4eca-baa3-e1460cf2a454'") == [CLOSED_ID]


async def test_nested_path(sim: Sim) -> None:
    assert await _ids(sim, filter="customerProfile/address/country eq 'GB'") == [CO_SELL_ID]
    assert await _ids(sim, filter="inviteContext/invitedBy/organizationId eq 'msft' and status eq 'Closed'") == [
        CLOSED_ID
    ]


async def test_any_lambda_over_team(sim: Sim) -> None:
    ids = await _ids(sim, filter="customerProfile/team/any(t:t/email eq 'joe.hansen@contoso.com')")
    assert ids == [CLOSED_ID]


async def test_gt_on_updated_and_created_datetime(sim: Sim) -> None:
    # Seed updatedDateTime values: 2025-01-15 (closed), 03-03, 04-10, 05-20 (active), 06-02.
    ids = await _ids(sim, filter="updatedDateTime gt 2025-05-20T16:45:10.2000000Z")
    assert ids == [RECEIVED_ID]
    ids = await _ids(sim, filter="updatedDateTime gt '2025-05-20T16:45:10.1999999Z'", orderby="updatedDateTime")
    assert ids == [ACTIVE_ID, RECEIVED_ID]
    ids = await _ids(sim, filter="createdDateTime gt 2025-04-01T00:00:00Z and direction eq 'Incoming'")
    assert set(ids) == {MARKETPLACE_ID, RECEIVED_ID}


async def test_bad_filter_is_400_with_documented_error_shape(sim: Sim) -> None:
    reply = await sim.get(params={"$filter": "status eq 'New' or status eq 'Active'"})
    assert reply.status == 400
    error = reply.json["error"]
    assert error["code"] == "invalidRequest"
    assert error["target"] == "$filter"
    assert "or" in error["message"]
    assert set(error["innerError"]) == {"code", "message"}


async def test_bad_orderby_and_top_are_400(sim: Sim) -> None:
    assert (await sim.get(params={"$orderby": "name"})).json["error"]["target"] == "$orderby"
    for top in ("0", "-3", "ten"):
        reply = await sim.get(params={"$top": top})
        assert reply.status == 400
        assert reply.json["error"]["target"] == "$top"


async def test_orderby_both_directions_with_id_tie_break(make_sim: SimFactory) -> None:
    same = "2025-07-01T00:00:00.0000000Z"
    referrals = [
        {"id": "c", "createdDateTime": same, "updatedDateTime": "2025-07-03T00:00:00.0000000Z"},
        {"id": "a", "createdDateTime": same, "updatedDateTime": "2025-07-02T00:00:00.0000000Z"},
        {"id": "b", "createdDateTime": "2025-06-01T00:00:00.1234567Z", "updatedDateTime": same},
    ]
    sim = await make_sim(referrals)
    assert await _ids(sim, orderby="createdDateTime asc") == ["b", "a", "c"]
    assert await _ids(sim, orderby="createdDateTime desc") == ["a", "c", "b"]
    assert await _ids(sim, orderby="updatedDateTime desc") == ["c", "a", "b"]
    assert await _ids(sim, orderby="updatedDateTime") == ["b", "a", "c"]


async def test_quoted_guid_is_case_insensitive_and_related_referrals_link_works(sim: Sim) -> None:
    assert await _ids(sim, filter="engagementId eq 'B1C40BB4-6D36-4ECA-BAA3-E1460CF2A454'") == [CLOSED_ID]
    related = (await sim.get(f"/v1.0/engagements/referrals/{CLOSED_ID}")).json["links"]["relatedReferrals"]["uri"]
    query = related.split("?", 1)[1].removeprefix("$filter=")
    assert await _ids(sim, filter=query) == [CLOSED_ID]


async def test_gt_compares_all_seven_fractional_digits(make_sim: SimFactory) -> None:
    a, b = "2025-07-01T00:00:00.1234560Z", "2025-07-01T00:00:00.1234567Z"
    referrals = [
        {"id": "a", "createdDateTime": a, "updatedDateTime": a},
        {"id": "b", "createdDateTime": b, "updatedDateTime": b},
    ]
    sim = await make_sim(referrals)
    assert await _ids(sim, filter="updatedDateTime gt 2025-07-01T00:00:00.123456Z") == ["b"]
    assert await _ids(sim, filter="updatedDateTime gt 2025-07-01T00:00:00.1234566Z") == ["b"]
    assert await _ids(sim, filter="updatedDateTime gt 2025-07-01T00:00:00.1234567Z") == []
    assert await _ids(sim, filter="updatedDateTime gt 2025-07-01T02:00:00.1234559+02:00") == ["a", "b"]
    assert await _ids(sim, orderby="updatedDateTime desc") == ["b", "a"]
