"""Least privilege in the commission's API, over HTTP on the real database: the role in a
token lets its bearer reach a route, but only the member holding the office in the
composition the act belongs to may act (the meeting's for a meeting, the call's current one
for a new composition, a meeting or an appeal's panel); the token's subject is the member id.
Another call's secretary, a member acting as the chair, the chair signed in as the secretary
are refused with a 403 problem that says why, logged, and nothing is appended; the operator
records a call's first composition and its secretary the later ones; members vote, recuse
and dissent only as themselves."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import pytest

from konkurs_commission.bootstrap import SCHEMA
from konkurs_platform.auth import Role
from konkurs_platform.settings import Settings
from tests.integration.test_commission_meeting import (
    MEMBERS,
    Api,
    api,
    bin_of,
    composed,
    held_and_published,
    post,
    ranked_call,
    scheduled,
)

pytestmark = pytest.mark.integration

__all__ = ["api"]  # the fixture, used by name

PROBLEM = "application/problem+json"
NOT_THE_SECRETARY = "not-the-secretary"
NOT_THE_CHAIR_OR_SECRETARY = "not-the-chair-or-secretary"


def members(chair: str, secretary: str, others: list[str]) -> list[dict[str, Any]]:
    return [
        {"member_id": chair, "name": "A Chair", "role": "chair", "position": "Minister"},
        {"member_id": secretary, "name": "A Secretary", "role": "secretary", "position": "Dir."},
        *(
            {"member_id": m, "name": f"Member {m}", "role": "member", "position": "Member"}
            for m in others
        ),
    ]


async def stored_events(pool: asyncpg.Pool, stream_prefix: str) -> int:
    async with pool.acquire() as conn:
        count: int = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.events WHERE stream_id LIKE $1", stream_prefix + "%"
        )
    return count


def refused(answer: Any, kind: str, detail: str) -> None:
    """A 403 problem of `kind` whose detail is `detail`."""
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == PROBLEM
    problem = answer.json()
    assert problem["type"].endswith(kind), problem
    assert problem["detail"] == detail


async def test_another_calls_secretary_may_not_run_this_calls_commission_and_is_told_why(
    settings: Settings, pool: asyncpg.Pool, api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    call_id = await ranked_call(settings, pool, candidates=3, quota=2)
    other_call = await ranked_call(settings, pool, candidates=2, quota=1)
    await composed(api, call_id)
    theirs = await api.client.put(
        f"/v1/calls/{other_call}/commission",
        json={"members": members("chair-b", "sec-b", ["mb1", "mb2"])},
        headers=api.operator(),
    )
    assert theirs.status_code == 200, theirs.text
    stranger = api.token(Role.COMMISSION_SECRETARY, "sec-b")
    pending = await scheduled(api, call_id)
    meeting = await held_and_published(api, call_id)
    lodged = await api.client.post(
        "/v1/appeals",
        json={
            "meeting_id": meeting,
            "application_id": f"{call_id}-app-1",
            "ground": "quorum_or_count",
            "explanation": "Our vote was miscounted.",
        },
        headers=api.token(Role.APPLICANT, "applicant-1", org=bin_of(1)),
    )
    assert lodged.status_code == 201, lodged.text
    appeal_id = lodged.json()["appeal_id"]
    before = await stored_events(pool, "")

    this_meeting = "sec-b is not the secretary of this meeting's commission."
    neither = "sec-b is neither the chair nor the secretary of this meeting's commission."
    digest = (await api.client.get(f"/v1/meetings/{meeting}", headers=api.secretary())).json()[
        "minutes_sha256"
    ]
    caplog.set_level(logging.WARNING, logger="konkurs.auth")
    for path, body, kind, detail in [
        (f"/v1/meetings/{pending}/opening", {"present_member_ids": MEMBERS}, None, this_meeting),
        (f"/v1/meetings/{pending}/votes/{call_id}-app-1/opening", None, "chair", neither),
        (f"/v1/meetings/{pending}/votes/{call_id}-app-1/closing", None, "chair", neither),
        (f"/v1/meetings/{meeting}/attendance", {"member_id": "m1", "present": False}, None, ""),
        (f"/v1/meetings/{meeting}/decision", {"rationales": {}}, None, this_meeting),
        (f"/v1/meetings/{meeting}/approvals", {"minutes_sha256": digest}, "chair", neither),
        (f"/v1/meetings/{meeting}/publication", None, None, this_meeting),
        (
            f"/v1/meetings/{meeting}/replacements",
            {"application_id": f"{call_id}-app-2", "cause": "withdrawn", "reason": "Left."},
            None,
            this_meeting,
        ),
    ]:
        answer = await post(api, path, stranger, body)
        expected = NOT_THE_CHAIR_OR_SECRETARY if kind == "chair" else NOT_THE_SECRETARY
        refused(answer, expected, detail or this_meeting)
    of_the_call = f"sec-b is not the secretary of the commission of {call_id}."
    refused(
        await api.client.post(
            "/v1/meetings",
            json={"call_id": call_id, "scheduled_for": "2017-09-20T11:00:00+06:00", "venue": "X"},
            headers=stranger,
        ),
        NOT_THE_SECRETARY,
        of_the_call,
    )
    refused(
        await api.client.put(
            f"/v1/calls/{call_id}/commission",
            json={"members": members("chair", "sec-b", MEMBERS), "reason": "Taken over."},
            headers=stranger,
        ),
        NOT_THE_SECRETARY,
        of_the_call,
    )
    refused(
        await post(api, f"/v1/appeals/{appeal_id}/panel", stranger, {"member_ids": ["m2"]}),
        NOT_THE_SECRETARY,
        of_the_call,
    )
    # Refusals leave no trace in the event store, but each is logged with who and why.
    assert await stored_events(pool, "") == before
    denials = [r for r in caplog.records if r.name == "konkurs.auth"]
    assert len(denials) == 11
    assert all(getattr(r, "subject", None) == "sec-b" for r in denials)
    assert {getattr(r, "status", None) for r in denials} == {403}
    # The secretary of this call's commission names the panel.
    named = await post(
        api, f"/v1/appeals/{appeal_id}/panel", api.secretary(), {"member_ids": ["m2"]}
    )
    assert named.status_code == 200, named.text


async def test_only_the_chair_signed_in_as_a_member_shares_the_secretarys_acts_on_votes(
    settings: Settings, pool: asyncpg.Pool, api: Api
) -> None:
    call_id = await ranked_call(settings, pool, candidates=3, quota=2)
    await composed(api, call_id)
    meeting = await scheduled(api, call_id)
    present = ["chair", "sec", *MEMBERS]
    # The chair signed in as a secretary is not this meeting's secretary.
    refused(
        await post(
            api,
            f"/v1/meetings/{meeting}/opening",
            api.token(Role.COMMISSION_SECRETARY, "chair"),
            {"present_member_ids": present},
        ),
        NOT_THE_SECRETARY,
        "chair is not the secretary of this meeting's commission.",
    )
    opened = await post(
        api, f"/v1/meetings/{meeting}/opening", api.secretary(), {"present_member_ids": present}
    )
    assert opened.status_code == 200, opened.text
    # The first-placed: carried, it needs no rationale (m1 is recused for it).
    candidate = f"{call_id}-app-1"
    opening = f"/v1/meetings/{meeting}/votes/{candidate}/opening"
    # A member acting as the chair, and the secretary signed in as a member, are refused.
    for who in ("m2", "sec"):
        refused(
            await post(api, opening, api.member(who)),
            NOT_THE_CHAIR_OR_SECRETARY,
            f"{who} is neither the chair nor the secretary of this meeting's commission.",
        )
    assert (await post(api, opening, api.member("chair"))).status_code == 200
    for m in ("chair", *MEMBERS[1:]):
        vote = await api.client.put(
            f"/v1/meetings/{meeting}/votes/{candidate}",
            json={"choice": "for"},
            headers=api.member(m),
        )
        assert vote.status_code == 200, vote.text
    closing = f"/v1/meetings/{meeting}/votes/{candidate}/closing"
    refused(
        await post(api, closing, api.member("m3")),
        NOT_THE_CHAIR_OR_SECRETARY,
        "m3 is neither the chair nor the secretary of this meeting's commission.",
    )
    assert (await post(api, closing, api.member("chair"))).status_code == 200
    taken = await post(api, f"/v1/meetings/{meeting}/decision", api.secretary(), {})
    assert taken.status_code == 200, taken.text
    digest = taken.json()["minutes_sha256"]
    approvals = f"/v1/meetings/{meeting}/approvals"
    refused(
        await post(api, approvals, api.member("m2"), {"minutes_sha256": digest}),
        NOT_THE_CHAIR_OR_SECRETARY,
        "m2 is neither the chair nor the secretary of this meeting's commission.",
    )
    approved = await post(api, approvals, api.member("chair"), {"minutes_sha256": digest})
    assert approved.status_code == 200, approved.text
    assert approved.json()["approved_by"] == ["chair"]


async def test_members_vote_recuse_and_dissent_only_as_themselves(
    settings: Settings, pool: asyncpg.Pool, api: Api
) -> None:
    call_id = await ranked_call(settings, pool, candidates=3, quota=2)
    await composed(api, call_id)
    meeting = await scheduled(api, call_id)
    await post(
        api,
        f"/v1/meetings/{meeting}/opening",
        api.secretary(),
        {"present_member_ids": ["chair", "sec", *MEMBERS]},
    )
    candidate = f"{call_id}-app-2"
    await post(api, f"/v1/meetings/{meeting}/votes/{candidate}/opening", api.member("chair"))
    vote_path = f"/v1/meetings/{meeting}/votes/{candidate}"
    # The body cannot name another member: the vote is the token subject's.
    forged = await api.client.put(
        vote_path, json={"choice": "against", "member_id": "m3"}, headers=api.member("m2")
    )
    assert forged.status_code == 422
    own = await api.client.put(vote_path, json={"choice": "against"}, headers=api.member("m2"))
    assert own.status_code == 200, own.text
    # Someone else's member (another call's) is no member of this meeting.
    outsider = api.member("mb1")
    for answer in (
        await api.client.put(vote_path, json={"choice": "for"}, headers=outsider),
        await post(
            api,
            f"/v1/meetings/{meeting}/recusals",
            outsider,
            {"application_id": candidate, "reason": "Kin."},
        ),
        await post(api, f"/v1/meetings/{meeting}/dissenting-opinions", outsider, {"text": "No."}),
    ):
        assert answer.status_code == 403, answer.text
        assert answer.json()["detail"] == "mb1 is not a member of this meeting."
    await post(api, f"/v1/meetings/{meeting}/votes/{candidate}/closing", api.secretary())
    state = (await api.client.get(f"/v1/meetings/{meeting}", headers=api.secretary())).json()
    tally = next(c["tally"] for c in state["candidates"] if c["application_id"] == candidate)
    assert (tally["for"], tally["against"]) == (0, 1)


async def test_the_operator_records_the_first_composition_and_its_secretary_the_later_ones(
    settings: Settings, pool: asyncpg.Pool, api: Api
) -> None:
    call_id = await ranked_call(settings, pool, candidates=2, quota=1)
    path = f"/v1/calls/{call_id}/commission"
    first = {"members": members("chair", "sec", MEMBERS)}
    # No secretary yet: not even the one the composition would name may record it.
    refused(
        await api.client.put(path, json=first, headers=api.secretary()),
        "not-the-operator",
        f"No commission is composed for {call_id} yet: the programme's operator records the "
        "first composition.",
    )
    assert await stored_events(pool, f"commission-{call_id}") == 0
    recorded = await api.client.put(path, json=first, headers=api.operator())
    assert recorded.status_code == 200, recorded.text
    handover = {"members": members("chair", "sec-2", MEMBERS), "reason": "The secretary moved."}
    # Then neither the operator nor an admin, nor the secretary-to-be before the handover.
    for role, subject in (
        (Role.OPERATOR, "operator-1"),
        (Role.ADMIN, "admin-1"),
        (Role.COMMISSION_SECRETARY, "sec-2"),
    ):
        refused(
            await api.client.put(path, json=handover, headers=api.token(role, subject)),
            NOT_THE_SECRETARY,
            f"{subject} is not the secretary of the commission of {call_id}.",
        )
    handed = await api.client.put(path, json=handover, headers=api.secretary())
    assert handed.status_code == 200, handed.text
    assert handed.json()["composition_version"] == 2
    # The new secretary alone keeps it from now on; the old one no more.
    back = {"members": members("chair", "sec", MEMBERS), "reason": "Back."}
    refused(
        await api.client.put(path, json=back, headers=api.secretary()),
        NOT_THE_SECRETARY,
        f"sec is not the secretary of the commission of {call_id}.",
    )
    new_secretary = api.token(Role.COMMISSION_SECRETARY, "sec-2")
    assert (await api.client.put(path, json=back, headers=new_secretary)).status_code == 200
    # An admin may record a first composition as the operator does.
    another = await ranked_call(settings, pool, candidates=2, quota=1)
    by_admin = await api.client.put(
        f"/v1/calls/{another}/commission", json=first, headers=api.token(Role.ADMIN, "admin-1")
    )
    assert by_admin.status_code == 200, by_admin.text
