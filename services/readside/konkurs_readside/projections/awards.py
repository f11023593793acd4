"""The `awards` read model: what open data publishes (issue 11). The clusters the commission
selected (ClusterSelected, taken back by WinnerReplaced), the tally and rationale of the
decision that selected them (DecisionPublished), the support measures of each plan version
and which versions were approved (PlanDrafted, PlanApproved), and the disbursements of the
reports once accepted (ReportSubmitted, ReportAccepted).

Nothing here is personal data: clusters and organisations by name and BIN (public by law
once selected), money and dates.

Idempotent per event: a plan's events share one stream ("plan-<id>"), so each row keeps the
version of that stream it reflects and an event at or below it changes nothing; a published
decision never changes, so its rows are only inserted; a selection keeps the stream and
version of its ClusterSelected, so a redelivered older one cannot undo a later change.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC

from konkurs.commission.v1 import events_pb2 as commission
from konkurs.plans.v1 import events_pb2 as plans
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_readside.storable import decode_storable

CLUSTER_SELECTED = commission.ClusterSelected.DESCRIPTOR.full_name
WINNER_REPLACED = commission.WinnerReplaced.DESCRIPTOR.full_name
DECISION_PUBLISHED = commission.DecisionPublished.DESCRIPTOR.full_name
PLAN_DRAFTED = plans.PlanDrafted.DESCRIPTOR.full_name
PLAN_APPROVED = plans.PlanApproved.DESCRIPTOR.full_name
REPORT_SUBMITTED = plans.ReportSubmitted.DESCRIPTOR.full_name
REPORT_ACCEPTED = plans.ReportAccepted.DESCRIPTOR.full_name

TABLES = ("awards", "award_decisions", "award_plan_versions", "award_reports")


async def on_cluster_selected(conn: Connection, schema: str, e: Envelope) -> None:
    """The cluster is awarded; a selection anew (after a replacement) clears the cause."""
    s = decode_storable(commission.ClusterSelected, e.payload)
    await conn.execute(
        f"""INSERT INTO {schema}.awards (application_id, call_id, registration_number,
                cluster_name, region_code, coordinator_bin, rank, meeting_id, selected_at,
                from_reserve, replaced_cause, stream_id, stream_version, last_event_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11, $12, $13)
            ON CONFLICT (application_id) DO UPDATE SET call_id = excluded.call_id,
                registration_number = excluded.registration_number,
                cluster_name = excluded.cluster_name, region_code = excluded.region_code,
                coordinator_bin = excluded.coordinator_bin, rank = excluded.rank,
                meeting_id = excluded.meeting_id, selected_at = excluded.selected_at,
                from_reserve = excluded.from_reserve, replaced_cause = NULL,
                stream_id = excluded.stream_id, stream_version = excluded.stream_version,
                last_event_id = excluded.last_event_id
            WHERE {schema}.awards.stream_id <> excluded.stream_id
                OR {schema}.awards.stream_version < excluded.stream_version""",
        s.application_id,
        s.call_id,
        s.registration_number,
        s.cluster_name,
        s.region_code,
        s.coordinator_bin,
        s.rank,
        s.meeting_id,
        s.selected_at.ToDatetime(tzinfo=UTC),
        s.from_reserve,
        e.stream_id,
        e.stream_version,
        e.event_id,
    )


async def on_winner_replaced(conn: Connection, schema: str, e: Envelope) -> None:
    """The award is taken back. Only a selection by the same meeting is: a later selection
    of the application by another meeting stands."""
    r = decode_storable(commission.WinnerReplaced, e.payload)
    await conn.execute(
        f"""UPDATE {schema}.awards SET replaced_cause = $3
            WHERE application_id = $1 AND meeting_id = $2""",
        r.withdrawn_application_id,
        r.meeting_id,
        r.cause,
    )


async def on_decision_published(conn: Connection, schema: str, e: Envelope) -> None:
    """The selected candidates' tallies and rationales, once."""
    d = decode_storable(commission.DecisionPublished, e.payload)
    await conn.executemany(
        f"""INSERT INTO {schema}.award_decisions (meeting_id, application_id, call_id, rank,
                votes_for, votes_against, abstentions, recused, casting_vote_used, rationale,
                minutes_sha256, published_at, event_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
            ON CONFLICT DO NOTHING""",
        [
            (
                d.meeting_id,
                c.application_id,
                d.call_id,
                c.rank,
                c.tally.votes_for,
                c.tally.votes_against,
                c.tally.abstentions,
                c.tally.recused,
                c.tally.casting_vote_used,
                c.rationale,
                d.minutes_sha256,
                d.published_at.ToDatetime(tzinfo=UTC),
                e.event_id,
            )
            for c in d.selected
        ],
    )


async def on_plan_drafted(conn: Connection, schema: str, e: Envelope) -> None:
    """A version's support measures; a later draft of the same version replaces them."""
    p = decode_storable(plans.PlanDrafted, e.payload)
    measures = [
        {
            "measure_id": m.measure_id,
            "kind": m.kind,
            "amount": m.amount,
            "budget_source": m.budget_source,
        }
        for m in p.content.support_measures
    ]
    await conn.execute(
        f"""INSERT INTO {schema}.award_plan_versions (plan_id, version, support_measures,
                approved_at, stream_version, last_event_id)
            VALUES ($1, $2, $3, NULL, $4, $5)
            ON CONFLICT (plan_id, version) DO UPDATE SET
                support_measures = excluded.support_measures,
                stream_version = excluded.stream_version, last_event_id = excluded.last_event_id
            WHERE {schema}.award_plan_versions.stream_version < excluded.stream_version""",
        p.plan_id,
        p.version,
        json.dumps(measures),
        e.stream_version,
        e.event_id,
    )


async def on_plan_approved(conn: Connection, schema: str, e: Envelope) -> None:
    """The version holds from its effective time on."""
    p = decode_storable(plans.PlanApproved, e.payload)
    await conn.execute(
        f"""UPDATE {schema}.award_plan_versions
            SET approved_at = $3, stream_version = $4, last_event_id = $5
            WHERE plan_id = $1 AND version = $2 AND stream_version < $4""",
        p.plan_id,
        p.version,
        p.effective_from.ToDatetime(tzinfo=UTC),
        e.stream_version,
        e.event_id,
    )


async def on_report_submitted(conn: Connection, schema: str, e: Envelope) -> None:
    """The period's disbursements as submitted (again, after a return): not counted yet."""
    r = decode_storable(plans.ReportSubmitted, e.payload)
    disbursements = [
        {"measure_id": d.measure_id, "on": d.disbursement.on, "amount": d.disbursement.amount}
        for d in r.disbursements
    ]
    await conn.execute(
        f"""INSERT INTO {schema}.award_reports (plan_id, period_id, disbursements, accepted,
                stream_version, last_event_id)
            VALUES ($1, $2, $3, false, $4, $5)
            ON CONFLICT (plan_id, period_id) DO UPDATE SET
                disbursements = excluded.disbursements, accepted = false,
                stream_version = excluded.stream_version, last_event_id = excluded.last_event_id
            WHERE {schema}.award_reports.stream_version < excluded.stream_version""",
        r.plan_id,
        r.period_id,
        json.dumps(disbursements),
        e.stream_version,
        e.event_id,
    )


async def on_report_accepted(conn: Connection, schema: str, e: Envelope) -> None:
    """The period's disbursements count."""
    r = decode_storable(plans.ReportAccepted, e.payload)
    await conn.execute(
        f"""UPDATE {schema}.award_reports
            SET accepted = true, stream_version = $3, last_event_id = $4
            WHERE plan_id = $1 AND period_id = $2 AND stream_version < $3""",
        r.plan_id,
        r.period_id,
        e.stream_version,
        e.event_id,
    )


HANDLERS: dict[str, Callable[[Connection, str, Envelope], Awaitable[None]]] = {
    CLUSTER_SELECTED: on_cluster_selected,
    WINNER_REPLACED: on_winner_replaced,
    DECISION_PUBLISHED: on_decision_published,
    PLAN_DRAFTED: on_plan_drafted,
    PLAN_APPROVED: on_plan_approved,
    REPORT_SUBMITTED: on_report_submitted,
    REPORT_ACCEPTED: on_report_accepted,
}
EVENT_TYPES = frozenset(HANDLERS)


async def apply_batch(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """Apply the events one by one, in order: a programme selects a handful of clusters and
    each plan reports a few times a year."""
    for e in events:
        await HANDLERS[e.event_type](conn, schema, e)
