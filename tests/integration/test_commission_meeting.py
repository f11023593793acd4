"""The commission against the real broker and PostgreSQL: its HTTP API from composition to
published decision under concurrent votes, its reactions to intake's and scoring's records
(a redelivered ranking changes nothing), the appeal window on its durable timer, and upheld
appeals that reach scoring and come back as a new meeting's agenda."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from konkurs.intake.v1 import application_pb2, call_pb2, events_pb2
from konkurs.scoring.v1 import evaluation_pb2, ranking_pb2
from konkurs_commission.adapters.codec import decode_event
from konkurs_commission.app.commission import meeting_stream, reconsideration_meeting_id
from konkurs_commission.app.minutes import load_minutes
from konkurs_commission.bootstrap import SCHEMA, appeal_clock, build, create_app
from konkurs_commission.consumers.reactions import (
    INTAKE_CONSUMER,
    SCORING_CONSUMER,
    Reactions,
)
from konkurs_commission.domain.events import MeetingScheduled
from konkurs_commission.domain.minutes import canonical_json
from konkurs_platform.auth import Role, mint_token
from konkurs_platform.envelope import decode_envelope
from konkurs_platform.protobuf import to_timestamp
from konkurs_platform.reaction import react
from konkurs_platform.settings import Settings
from konkurs_scoring.adapters.commission_events import reevaluation_request
from tests.integration.test_consumers_hostile import Record, good, publish, records_of, world

pytestmark = pytest.mark.integration

CLOCK = datetime(2017, 9, 1, 5, 0, tzinfo=UTC)
MEMBERS = [f"m{i}" for i in range(1, 8)]


@dataclass
class Api:
    settings: Settings
    app: FastAPI
    client: httpx.AsyncClient
    now: list[datetime]

    def token(self, role: Role, subject: str, org: str | None = None) -> dict[str, str]:
        claims = {"org": org} if org else {}
        return {"Authorization": f"Bearer {mint_token(self.settings, role, subject, **claims)}"}

    def secretary(self) -> dict[str, str]:
        return self.token(Role.COMMISSION_SECRETARY, "sec")

    def operator(self) -> dict[str, str]:
        """The programme's operator, who records a call's first composition."""
        return self.token(Role.OPERATOR, "operator-1")

    def member(self, member_id: str) -> dict[str, str]:
        return self.token(Role.COMMISSION_MEMBER, member_id)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    now = [CLOCK]
    app = create_app(settings, clock=lambda: now[0])
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://commission"
        ) as client,
    ):
        yield Api(settings, app, client, now)


def bin_of(n: int) -> str:
    return f"1704400{n:05d}"


def application(call_id: str, n: int) -> events_pb2.ApplicationSubmitted:
    return events_pb2.ApplicationSubmitted(
        application_id=f"{call_id}-app-{n}",
        call_id=call_id,
        registration_number=f"KZ-75-2017-{n:04d}",
        content=application_pb2.ApplicationContent(
            cluster=application_pb2.Cluster(name=f"Cluster {n}", region_code="KZ-75"),
            coordinator=application_pb2.Organisation(bin=bin_of(n), name=f"Coordinator {n}"),
            participants=[application_pb2.Participant(bin=bin_of(n), name=f"Coordinator {n}")],
        ),
    )


def ranking(call_id: str, version: int, count: int) -> ranking_pb2.RankingPublished:
    return ranking_pb2.RankingPublished(
        call_id=call_id,
        ranking_version=version,
        call_version=1,
        tie_break=["registration"],
        entries=[
            ranking_pb2.RankingEntry(
                rank=n,
                application_id=f"{call_id}-app-{n}",
                registration_number=f"KZ-75-2017-{n:04d}",
                round=version,
                overall=evaluation_pb2.ExactScore(numerator=90 - n, denominator=1),
                fundable=n < count,
                failed_thresholds=[] if n < count else ["overall"],
            )
            for n in range(1, count + 1)
        ],
        content_hash=f"hash-{version}-{uuid.uuid4().hex}",
        published_at=to_timestamp(CLOCK - timedelta(days=7)),
    )


async def learn(
    settings: Settings, pool: asyncpg.Pool, records: list[Record], producer: str
) -> None:
    """Publish `records` to `producer`'s topic of a world of their own and run the
    commission's reaction over them, as its worker's agent does."""
    reactions = Reactions(build(pool, settings))
    effects = reactions.intake_effects() if producer == "intake" else reactions.scoring_effects()
    await publish(settings, records, key=b"call", producer=producer)
    await react(
        records_of(settings, producer, len(records)),  # type: ignore[arg-type]
        settings=settings,
        pool=pool,
        schema=SCHEMA,
        consumer=INTAKE_CONSUMER if producer == "intake" else SCORING_CONSUMER,
        effects=effects,
    )


async def ranked_call(
    settings: Settings, pool: asyncpg.Pool, *, candidates: int, quota: int
) -> str:
    """A call the commission learned from intake's and scoring's records: its quota, its
    applications and ranking version 1."""
    s = await world(settings)
    call_id = f"call-{uuid.uuid4().hex[:8]}"
    announced = events_pb2.CallAnnounced(
        call_id=call_id, call=call_pb2.CallDefinition(quota=quota, time_zone="Asia/Almaty")
    )
    intake = [good(call_id, 1, announced)]
    intake += [good(call_id, 1, application(call_id, n)) for n in range(1, candidates + 1)]
    await learn(s, pool, intake, "intake")
    await learn(s, pool, [good(call_id, 1, ranking(call_id, 1, candidates))], "scoring")
    return call_id


async def composed(api: Api, call_id: str) -> None:
    """The call's first composition, recorded by the operator: the chair, the secretary
    `sec` and the MEMBERS (m1 affiliated with application 1's coordinator)."""
    members = [
        {"member_id": "chair", "name": "Chair Person", "role": "chair", "position": "Minister"},
        {"member_id": "sec", "name": "Secretary Person", "role": "secretary", "position": "Dir."},
    ]
    members += [
        {"member_id": m, "name": f"Member {m}", "role": "member", "position": "Member"}
        for m in MEMBERS
    ]
    members[2]["affiliation_bins"] = [bin_of(1)]
    answer = await api.client.put(
        f"/v1/calls/{call_id}/commission", json={"members": members}, headers=api.operator()
    )
    assert answer.status_code == 200, answer.text


async def scheduled(api: Api, call_id: str) -> str:
    answer = await api.client.post(
        "/v1/meetings",
        json={"call_id": call_id, "scheduled_for": "2017-09-01T11:00:00+06:00", "venue": "Astana"},
        headers=api.secretary(),
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["meeting_id"])


async def post(api: Api, path: str, headers: dict[str, str], body: Any = None) -> httpx.Response:
    return await api.client.post(path, json=body or {}, headers=headers)


async def test_no_vote_without_quorum_and_the_problem_says_how_many_are_missing(
    settings: Settings, pool: asyncpg.Pool, api: Api
) -> None:
    call_id = await ranked_call(settings, pool, candidates=3, quota=2)
    await composed(api, call_id)
    meeting = await scheduled(api, call_id)
    opened = await post(
        api, f"/v1/meetings/{meeting}/opening", api.secretary(), {"present_member_ids": MEMBERS[:4]}
    )
    assert opened.json()["quorum_required"] == 6 and not opened.json()["quorum_met"]
    refused = await post(
        api, f"/v1/meetings/{meeting}/votes/{call_id}-app-2/opening", api.secretary()
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert "2 missing" in refused.json()["detail"]


async def test_the_quota_is_never_exceeded_under_concurrent_votes_from_many_members(
    settings: Settings, pool: asyncpg.Pool, api: Api
) -> None:
    quota = 2
    call_id = await ranked_call(settings, pool, candidates=5, quota=quota)
    await composed(api, call_id)
    meeting = await scheduled(api, call_id)
    present = ["chair", "sec", *MEMBERS]
    opened = await post(
        api, f"/v1/meetings/{meeting}/opening", api.secretary(), {"present_member_ids": present}
    )
    assert opened.json()["quorum_met"]
    candidates = [f"{call_id}-app-{n}" for n in range(1, 6)]
    statuses: list[int] = []
    for _ in candidates:
        # Everyone at once: the secretary and the chair try to open a vote on every
        # candidate, every member votes for every candidate, and the vote is closed twice.
        opens = [
            post(api, f"/v1/meetings/{meeting}/votes/{c}/opening", h)
            for c in candidates
            for h in (api.secretary(), api.member("chair"))
        ]
        answers = await asyncio.gather(*opens)
        statuses += [a.status_code for a in answers]
        state = (await api.client.get(f"/v1/meetings/{meeting}", headers=api.secretary())).json()
        current = state["open_vote"]
        if current is None:
            break
        votes = [
            api.client.put(
                f"/v1/meetings/{meeting}/votes/{c}", json={"choice": "for"}, headers=api.member(m)
            )
            for c in candidates
            for m in ["chair", *MEMBERS]
        ]
        answers = await asyncio.gather(*votes)
        statuses += [a.status_code for a in answers]
        closes = [post(api, f"/v1/meetings/{meeting}/votes/{current}/closing", api.secretary())]
        closes.append(
            post(api, f"/v1/meetings/{meeting}/votes/{current}/closing", api.member("chair"))
        )
        statuses += [a.status_code for a in await asyncio.gather(*closes)]
    assert set(statuses) <= {200, 403, 404, 409}, sorted(set(statuses))
    state = (await api.client.get(f"/v1/meetings/{meeting}", headers=api.secretary())).json()
    carried = [c["application_id"] for c in state["candidates"] if c["carried"]]
    assert len(carried) == quota
    rationales = {a: "Chosen by the commission for its export plan." for a in carried}
    decision = await post(
        api, f"/v1/meetings/{meeting}/decision", api.secretary(), {"rationales": rationales}
    )
    assert decision.status_code == 200, decision.text
    assert len(decision.json()["decision"]["selected"]) == quota


async def held_and_published(api: Api, call_id: str) -> str:
    """A meeting with quorum that selects app-2 and app-3 (app-1's vote fails), approved
    and published at CLOCK."""
    meeting = await scheduled(api, call_id)
    present = ["chair", "sec", *MEMBERS]
    await post(
        api, f"/v1/meetings/{meeting}/opening", api.secretary(), {"present_member_ids": present}
    )
    for n, choice in ((1, "against"), (2, "for"), (3, "for")):
        c = f"{call_id}-app-{n}"
        assert (
            await post(api, f"/v1/meetings/{meeting}/votes/{c}/opening", api.member("chair"))
        ).status_code == 200
        for m in ["chair", *MEMBERS[1:]]:
            vote = await api.client.put(
                f"/v1/meetings/{meeting}/votes/{c}", json={"choice": choice}, headers=api.member(m)
            )
            assert vote.status_code == 200, vote.text
        assert (
            await post(api, f"/v1/meetings/{meeting}/votes/{c}/closing", api.secretary())
        ).status_code == 200
    rationales = {f"{call_id}-app-2": "Export plan.", f"{call_id}-app-3": "Regional balance."}
    taken = await post(
        api,
        f"/v1/meetings/{meeting}/decision",
        api.secretary(),
        {"rationales": rationales, "reserve_application_ids": [f"{call_id}-app-1"]},
    )
    assert taken.status_code == 200, taken.text
    digest = taken.json()["minutes_sha256"]
    for who in (api.member("chair"), api.secretary()):
        approved = await post(
            api, f"/v1/meetings/{meeting}/approvals", who, {"minutes_sha256": digest}
        )
        assert approved.status_code == 200, approved.text
    published = await post(api, f"/v1/meetings/{meeting}/publication", api.secretary())
    assert published.status_code == 200, published.text
    return meeting


async def test_the_appeal_window_closes_on_its_timer_in_the_calls_time_zone_then_refuses_appeals(
    settings: Settings, pool: asyncpg.Pool, api: Api
) -> None:
    call_id = await ranked_call(settings, pool, candidates=3, quota=2)
    await composed(api, call_id)
    meeting = await held_and_published(api, call_id)
    decision = (
        await api.client.get(f"/v1/meetings/{meeting}/decision", headers=api.secretary())
    ).json()
    # Published 1 September 2017 11:00 in Almaty (UTC+6): the window ends at the start of
    # 2 October there, 30 days after the end of the published day.
    assert decision["appeals_close_at"] == "2017-10-01T18:00:00+00:00"
    closes = datetime(2017, 10, 1, 18, tzinfo=UTC)
    applicant = api.token(Role.APPLICANT, "applicant-1", org=bin_of(1))
    body = {
        "meeting_id": meeting,
        "application_id": f"{call_id}-app-1",
        "ground": "quorum_or_count",
        "explanation": "Our vote was miscounted.",
    }
    api.now[0] = closes - timedelta(seconds=1)
    lodged = await api.client.post("/v1/appeals", json=body, headers=applicant)
    assert lodged.status_code == 201, lodged.text
    # The durable timer: nothing is due a second early (the app's own timer leader reads the
    # same clock, so it fires nothing either while the clock says so).
    commission = build(pool, settings)
    timers = appeal_clock(settings, pool, commission, lambda: closes - timedelta(seconds=1))
    assert meeting_stream(meeting) not in [t.stream_id for t in await timers.fire_due()]
    async with pool.acquire() as conn:
        state, _ = await commission.meeting(conn, meeting)
    assert not state.window_closed
    api.now[0] = closes + timedelta(seconds=1)
    late = await api.client.post("/v1/appeals", json=body, headers=applicant)
    assert late.status_code == 409 and "2017-10-01T18:00:00+00:00" in late.json()["detail"]
    # At the end the window closes, once: fired here, or by the app's leader, which may
    # have woken while the clock said a second past the end.
    timers = appeal_clock(settings, pool, commission, lambda: closes)
    await timers.fire_due()
    async with pool.acquire() as conn:
        state, _ = await commission.meeting(conn, meeting)
        outcomes = await conn.fetch(
            f"SELECT outcome FROM {SCHEMA}.timers WHERE stream_id = $1",
            meeting_stream(meeting),
        )
    assert state.window_closed
    assert [r["outcome"] for r in outcomes] == ["fired"]
    api.now[0] = closes - timedelta(days=1)
    again = await api.client.post("/v1/appeals", json=body, headers=applicant)
    assert again.status_code == 409


async def test_an_upheld_appeal_asks_scoring_again_and_a_redelivered_ranking_schedules_one_meeting(
    settings: Settings, pool: asyncpg.Pool, api: Api
) -> None:
    call_id = await ranked_call(settings, pool, candidates=3, quota=3)
    await composed(api, call_id)
    meeting = await held_and_published(api, call_id)
    applicant = api.token(Role.APPLICANT, "applicant-1", org=bin_of(1))
    body = {
        "meeting_id": meeting,
        "application_id": f"{call_id}-app-1",
        "ground": "methodology_not_followed",
        "explanation": "The experts skipped annex 3.",
    }
    lodged = await api.client.post("/v1/appeals", json=body, headers=applicant)
    appeal_id = lodged.json()["appeal_id"]
    other = api.token(Role.APPLICANT, "applicant-2", org=bin_of(2))
    assert (await api.client.get(f"/v1/appeals/{appeal_id}", headers=other)).status_code == 403
    by_member = await post(
        api, f"/v1/appeals/{appeal_id}/decision", api.member("m2"), {"upheld": True, "reasons": "x"}
    )
    assert by_member.status_code == 403
    upheld = await post(
        api,
        f"/v1/appeals/{appeal_id}/decision",
        api.member("chair"),
        {"upheld": True, "reasons": "Annex 3 was not read."},
    )
    assert upheld.status_code == 200, upheld.text
    commission = build(pool, settings)
    stored = await commission.store.load(f"appeal-{appeal_id}")
    # What scoring's reaction reads of it (its own adapter) names the appeal and the call.
    assert stored[-1].event_type == "konkurs.commission.v1.ReevaluationRequested"
    request = reevaluation_request(stored[-1])
    assert (request.call_id, request.application_id, request.appeal_id) == (
        call_id,
        f"{call_id}-app-1",
        appeal_id,
    )
    # Scoring ranks again: version 2, delivered twice. One meeting, scheduled once.
    s = await world(settings)
    second = good(call_id, 2, ranking(call_id, 2, 3))
    await learn(s, pool, [second, second], "scoring")
    await learn(s, pool, [second, second], "scoring")
    new_meeting = reconsideration_meeting_id(decode_envelope(second.value).event_id)
    events = await commission.store.load(meeting_stream(new_meeting))
    async with pool.acquire() as conn:
        kept = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.rankings WHERE call_id = $1", call_id
        )
    assert kept == 2
    assert len(events) == 1
    scheduled_event = decode_event(events[0].event_type, events[0].payload)
    assert isinstance(scheduled_event, MeetingScheduled)
    assert scheduled_event.ranking_version == 2
    assert scheduled_event.reconsidered == (f"{call_id}-app-1",)
    # The first decision selected two of the call's three: one place is left.
    assert scheduled_event.quota == 1


async def test_a_call_whose_published_decisions_filled_its_quota_takes_no_new_meeting(
    settings: Settings, pool: asyncpg.Pool, api: Api
) -> None:
    call_id = await ranked_call(settings, pool, candidates=3, quota=2)
    await composed(api, call_id)
    await held_and_published(api, call_id)
    refused = await api.client.post(
        "/v1/meetings",
        json={"call_id": call_id, "scheduled_for": "2017-09-20T11:00:00+06:00", "venue": "Astana"},
        headers=api.secretary(),
    )
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("quota-filled")


async def test_replaying_a_meetings_stored_events_rebuilds_the_same_minutes_byte_for_byte(
    settings: Settings, pool: asyncpg.Pool, api: Api
) -> None:
    call_id = await ranked_call(settings, pool, candidates=3, quota=2)
    await composed(api, call_id)
    meeting = await held_and_published(api, call_id)
    state = api.app.state.commission
    first, info = await load_minutes(state, meeting)
    again, _ = await load_minutes(state, meeting)
    assert canonical_json(first) == canonical_json(again)
    assert info.published and info.application_ids[0] == f"{call_id}-app-1"
    assert [m.name for m in first.members][:2] == ["Chair Person", "Secretary Person"]
    assert [(r.member_id, r.automatic) for r in first.recusals] == [("m1", True)]
