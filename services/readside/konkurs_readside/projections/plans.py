"""The `plans` read models: each selected cluster's development plan (where its workflow
stands, its milestones as approved versions and accepted reports left them), every version of
it with its content and when it was in effect (so what the plan said at any time can be
shown), the report on each period, the overdue marks of the plans service's timers, and,
derived from these, the attainment of each indicator per period and the budget of each
support measure.

The status on-track / at-risk / late and what is overdue depend on the date they are asked
for, so they are not stored: the routes compute them with `plan_figures` (plan tracking's own
rules, copied) from these rows, as the plans service computes them from its plan.

Idempotent per event: a plan is one stream, and every event of it moves the plan's row to the
event's version, so an event at or below that version (the relay published it twice) is
skipped whole. The derived rows are recomputed from the folded rows of each plan a batch
touched: the same rows give the same figures, so a rebuild comes out equal.

The figures count what the operator accepted, as in plan tracking: an indicator's actual and
a disbursement come from an accepted report only, a report's milestone transitions move the
milestones when the report is accepted, and the targets are those of the version in effect.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from konkurs.plans.v1 import events_pb2 as pb
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_readside.projections import plan_figures as figures
from konkurs_readside.projections.rows import Fold, Row, Table
from konkurs_readside.storable import decode_storable

_MESSAGES: dict[str, Any] = {
    m.DESCRIPTOR.full_name: m
    for m in (
        pb.PlanOpened,
        pb.PlanDrafted,
        pb.PlanSubmitted,
        pb.PlanReturned,
        pb.PlanApproved,
        pb.ReportSubmitted,
        pb.ReportReturned,
        pb.ReportAccepted,
        pb.MilestoneOverdue,
        pb.ReportOverdue,
    )
}
EVENT_TYPES = frozenset(_MESSAGES)
TABLES = (
    "plans",
    "plan_versions",
    "plan_reports",
    "plan_overdue",
    "plan_attainment",
    "plan_budget",
)

PLANS = Table(
    "plans",
    ("plan_id",),
    (
        "plan_id",
        "call_id",
        "registration_number",
        "cluster_name",
        "region_code",
        "coordinator_bin",
        "time_zone",
        "phases",
        "periods",
        "current_version",
        "pending_version",
        "pending_state",
        "tracked",
        "milestones",
        "latest_accepted_period",
        "opened_at",
        "last_changed_at",
        "stream_version",
        "last_event_id",
    ),
    frozenset({"phases", "periods", "tracked", "milestones"}),
)
VERSIONS = Table(
    "plan_versions",
    ("plan_id", "version"),
    (
        "plan_id",
        "version",
        "state",
        "content",
        "reason",
        "comments",
        "drafted_at",
        "drafted_by",
        "drafted_by_role",
        "submitted_at",
        "returned_at",
        "decided_by",
        "decided_by_role",
        "effective_from",
        "effective_to",
        "stream_version",
        "last_event_id",
    ),
    frozenset({"content"}),
)
REPORTS = Table(
    "plan_reports",
    ("plan_id", "period_id"),
    (
        "plan_id",
        "period_id",
        "plan_version",
        "state",
        "actuals",
        "milestones",
        "disbursements",
        "narrative",
        "comments",
        "submissions",
        "submitted_at",
        "submitted_by",
        "decided_at",
        "decided_by",
        "decided_by_role",
        "stream_version",
        "last_event_id",
    ),
    frozenset({"actuals", "milestones", "disbursements"}),
)
OVERDUE = Table(
    "plan_overdue",
    ("plan_id", "kind", "item_id"),
    ("plan_id", "kind", "item_id", "due_on", "marked_at", "stream_version", "last_event_id"),
)
ATTAINMENT_COLUMNS = (
    "plan_id",
    "period_id",
    "code",
    "period_index",
    "plan_version",
    "name",
    "unit",
    "direction",
    "baseline_year",
    "baseline_value",
    "target",
    "actual",
    "attainment",
    "report_state",
)
BUDGET_COLUMNS = (
    "plan_id",
    "measure_id",
    "plan_version",
    "kind",
    "budget_source",
    "amount",
    "planned",
    "disbursed",
    "planned_total",
    "disbursed_total",
)

MILESTONE, REPORT = "milestone", "report"
# Milestone statuses a version's content leaves to the reports (see `_approved`).
SCHEDULED = "scheduled"
DRAFTED, SUBMITTED, RETURNED, APPROVED, SUPERSEDED, ACCEPTED = (
    "drafted",
    "submitted",
    "returned",
    "approved",
    "superseded",
    "accepted",
)


class UnknownPlan(Exception):
    """An event of a plan whose `PlanOpened` the read model never saw."""


class UnknownVersion(Exception):
    """A decision on a version of a plan that was never drafted."""


class UnknownPeriod(Exception):
    """A report on a period the plan does not have, or a decision on a report never made."""


def _slug(enum: Any, value: int, prefix: str) -> str:
    """`MILESTONE_STATUS_PARTLY_MET` -> `partly_met`."""
    return str(enum.Name(value)).removeprefix(prefix).lower()


def _status(value: int) -> str:
    return _slug(pb.MilestoneStatus, value, "MILESTONE_STATUS_")


def _decimal(text: str) -> Decimal:
    """An exact decimal as the events write it; anything else refuses the event."""
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {text!r}")
    return value


def _date(text: str) -> str:
    """An ISO 8601 date, checked and kept as written."""
    return date.fromisoformat(text).isoformat()


def _optional_date(text: str) -> str | None:
    return _date(text) if text else None


def _content(c: pb.PlanContent) -> dict[str, Any]:
    """A version's content as stored: strings as written, every date and amount checked."""
    return {
        "milestones": [
            {
                "milestone_id": m.milestone_id,
                "title": m.title,
                "phase_id": m.phase_id,
                "owner": m.owner,
                "due_on": _date(m.due_on),
                "status": _status(m.status),
                "met_on": _optional_date(m.met_on),
            }
            for m in c.milestones
        ],
        "indicators": [
            {
                "code": i.code,
                "name": i.name,
                "unit": i.unit,
                "direction": _slug(pb.Direction, i.direction, "DIRECTION_"),
                "baseline_year": i.baseline_year,
                "baseline_value": str(_decimal(i.baseline_value)),
                "targets": [
                    {"period_id": t.period_id, "value": str(_decimal(t.value))} for t in i.targets
                ],
            }
            for i in c.indicators
        ],
        "support_measures": [
            {
                "measure_id": s.measure_id,
                "kind": s.kind,
                "amount": str(_decimal(s.amount)),
                "budget_source": s.budget_source,
                "planned": [
                    {"on": _date(d.on), "amount": str(_decimal(d.amount))} for d in s.planned
                ],
            }
            for s in c.support_measures
        ],
        "summary": c.summary,
    }


@dataclass
class _Batch:
    """The folded rows of the plans a batch touches."""

    plans: Fold
    versions: Fold
    reports: Fold
    overdue: Fold

    def plan(self, plan_id: str) -> Row:
        found = self.plans.rows.get((plan_id,))
        if found is None:
            raise UnknownPlan(f"an event of an unknown plan {plan_id!r}")
        return found

    def version(self, plan_id: str, version: int) -> Row:
        found = self.versions.rows.get((plan_id, version))
        if found is None:
            raise UnknownVersion(f"plan {plan_id!r} has no version {version}")
        return found

    def report(self, plan_id: str, period_id: str) -> Row:
        found = self.reports.rows.get((plan_id, period_id))
        if found is None:
            raise UnknownPeriod(f"plan {plan_id!r} has no report on {period_id!r}")
        return found


def _opened(e: Envelope, msg: pb.PlanOpened) -> Row:
    ZoneInfo(msg.time_zone)  # an unknown time zone refuses the event: no due date could pass
    return {
        "plan_id": msg.plan_id,
        "call_id": msg.call_id,
        "registration_number": msg.registration_number,
        "cluster_name": msg.cluster_name,
        "region_code": msg.region_code,
        "coordinator_bin": msg.coordinator_bin,
        "time_zone": msg.time_zone,
        "phases": [
            {
                "phase_id": p.phase_id,
                "name_ru": p.name_ru,
                "name_kk": p.name_kk,
                "name_en": p.name_en,
                "starts_on": _date(p.starts_on),
                "ends_on": _date(p.ends_on),
            }
            for p in msg.phases
        ],
        "periods": [
            {
                "period_id": p.period_id,
                "starts_on": _date(p.starts_on),
                "ends_on": _date(p.ends_on),
                "report_due_on": _date(p.report_due_on),
            }
            for p in msg.periods
        ],
        "current_version": None,
        "pending_version": None,
        "pending_state": None,
        "tracked": {},
        "milestones": [],
        "latest_accepted_period": None,
        "opened_at": e.occurred_at,
    }


def _drafted(b: _Batch, e: Envelope, msg: pb.PlanDrafted, plan: Row) -> None:
    earlier = b.versions.rows.get((msg.plan_id, msg.version))
    b.versions.put(
        {
            "plan_id": msg.plan_id,
            "version": msg.version,
            "state": DRAFTED,
            "content": _content(msg.content),
            "reason": msg.reason,
            # A draft after a return keeps the comments it answers.
            "comments": earlier["comments"] if earlier else None,
            "drafted_at": e.occurred_at,
            "drafted_by": e.actor.subject,
            "drafted_by_role": e.actor.role,
            "submitted_at": None,
            "returned_at": earlier["returned_at"] if earlier else None,
            "decided_by": None,
            "decided_by_role": None,
            "effective_from": None,
            "effective_to": None,
        },
        e,
    )
    plan.update(pending_version=msg.version, pending_state=DRAFTED)


def _submitted(b: _Batch, e: Envelope, msg: pb.PlanSubmitted, plan: Row) -> None:
    version = b.version(msg.plan_id, msg.version)
    b.versions.put({**version, "state": SUBMITTED, "submitted_at": e.occurred_at}, e)
    plan.update(pending_version=msg.version, pending_state=SUBMITTED)


def _returned(b: _Batch, e: Envelope, msg: pb.PlanReturned, plan: Row) -> None:
    version = b.version(msg.plan_id, msg.version)
    b.versions.put(
        {
            **version,
            "state": RETURNED,
            "comments": msg.comments,
            "returned_at": e.occurred_at,
            "decided_by": e.actor.subject,
            "decided_by_role": e.actor.role,
        },
        e,
    )
    plan.update(pending_version=msg.version, pending_state=RETURNED)


def _approved(b: _Batch, e: Envelope, msg: pb.PlanApproved, plan: Row) -> None:
    version = b.version(msg.plan_id, msg.version)
    effective_from = msg.effective_from.ToDatetime(tzinfo=UTC)
    if plan["current_version"] is not None:
        before = b.version(msg.plan_id, plan["current_version"])
        b.versions.put({**before, "state": SUPERSEDED, "effective_to": effective_from}, e)
    b.versions.put(
        {
            **version,
            "state": APPROVED,
            "decided_by": e.actor.subject,
            "decided_by_role": e.actor.role,
            "effective_from": effective_from,
        },
        e,
    )
    # As in plan tracking: a version may settle a milestone (an amendment cancels it);
    # otherwise what the reports made of it stands.
    tracked = dict(plan["tracked"])
    for m in version["content"]["milestones"]:
        if m["status"] != SCHEDULED or m["milestone_id"] not in tracked:
            tracked[m["milestone_id"]] = _moved(m)
    plan.update(
        current_version=msg.version,
        pending_version=None,
        pending_state=None,
        tracked=tracked,
        milestones=[{**m, **tracked[m["milestone_id"]]} for m in version["content"]["milestones"]],
    )


def _report_submitted(b: _Batch, e: Envelope, msg: pb.ReportSubmitted, plan: Row) -> None:
    if msg.period_id not in {p["period_id"] for p in plan["periods"]}:
        raise UnknownPeriod(f"plan {msg.plan_id!r} has no period {msg.period_id!r}")
    earlier = b.reports.rows.get((msg.plan_id, msg.period_id))
    b.reports.put(
        {
            "plan_id": msg.plan_id,
            "period_id": msg.period_id,
            "plan_version": msg.plan_version,
            "state": SUBMITTED,
            "actuals": [
                {
                    "code": a.code,
                    "value": str(_decimal(a.value)),
                    "evidence_sha256": list(a.evidence_sha256),
                }
                for a in msg.actuals
            ],
            "milestones": [
                {
                    "milestone_id": t.milestone_id,
                    "status": _status(t.status),
                    "met_on": _optional_date(t.met_on),
                }
                for t in msg.milestones
            ],
            "disbursements": [
                {
                    "measure_id": d.measure_id,
                    "on": _date(d.disbursement.on),
                    "amount": str(_decimal(d.disbursement.amount)),
                }
                for d in msg.disbursements
            ],
            "narrative": msg.narrative,
            # A submission after a return keeps the comments it answers.
            "comments": earlier["comments"] if earlier else None,
            "submissions": earlier["submissions"] + 1 if earlier else 1,
            "submitted_at": e.occurred_at,
            "submitted_by": e.actor.subject,
            "decided_at": None,
            "decided_by": None,
            "decided_by_role": None,
        },
        e,
    )


def _report_returned(b: _Batch, e: Envelope, msg: pb.ReportReturned, plan: Row) -> None:
    report = b.report(msg.plan_id, msg.period_id)
    b.reports.put(
        {
            **report,
            "state": RETURNED,
            "comments": msg.comments,
            "decided_at": e.occurred_at,
            "decided_by": e.actor.subject,
            "decided_by_role": e.actor.role,
        },
        e,
    )


def _report_accepted(b: _Batch, e: Envelope, msg: pb.ReportAccepted, plan: Row) -> None:
    report = b.report(msg.plan_id, msg.period_id)
    b.reports.put(
        {
            **report,
            "state": ACCEPTED,
            "decided_at": e.occurred_at,
            "decided_by": e.actor.subject,
            "decided_by_role": e.actor.role,
        },
        e,
    )
    tracked = {**plan["tracked"], **{t["milestone_id"]: _moved(t) for t in report["milestones"]}}
    plan.update(
        tracked=tracked,
        milestones=[{**m, **tracked[m["milestone_id"]]} for m in plan["milestones"]],
    )
    order = [p["period_id"] for p in plan["periods"]]
    accepted = [
        r["period_id"]
        for r in b.reports.rows.values()
        if r["plan_id"] == msg.plan_id and r["state"] == ACCEPTED
    ]
    plan["latest_accepted_period"] = max(accepted, key=order.index)


def _moved(transition: dict[str, Any]) -> dict[str, Any]:
    return {"status": transition["status"], "met_on": transition["met_on"]}


def _marked(b: _Batch, e: Envelope, plan_id: str, kind: str, item_id: str, due: str) -> None:
    """The timer's mark; the service marks an item once, and the first mark stands."""
    if (plan_id, kind, item_id) not in b.overdue.rows:
        b.overdue.put(
            {
                "plan_id": plan_id,
                "kind": kind,
                "item_id": item_id,
                "due_on": date.fromisoformat(due),
                "marked_at": e.occurred_at,
            },
            e,
        )


def _fold(b: _Batch, e: Envelope, msg: Any) -> None:
    key = (msg.plan_id,)
    if not b.plans.fresh(key, e):
        return
    if isinstance(msg, pb.PlanOpened):
        plan = _opened(e, msg)
    else:
        plan = {**b.plan(msg.plan_id)}
        if isinstance(msg, pb.PlanDrafted):
            _drafted(b, e, msg, plan)
        elif isinstance(msg, pb.PlanSubmitted):
            _submitted(b, e, msg, plan)
        elif isinstance(msg, pb.PlanReturned):
            _returned(b, e, msg, plan)
        elif isinstance(msg, pb.PlanApproved):
            _approved(b, e, msg, plan)
        elif isinstance(msg, pb.ReportSubmitted):
            _report_submitted(b, e, msg, plan)
        elif isinstance(msg, pb.ReportReturned):
            _report_returned(b, e, msg, plan)
        elif isinstance(msg, pb.ReportAccepted):
            _report_accepted(b, e, msg, plan)
        elif isinstance(msg, pb.MilestoneOverdue):
            _marked(b, e, msg.plan_id, MILESTONE, msg.milestone_id, msg.due_on)
        else:
            _marked(b, e, msg.plan_id, REPORT, msg.period_id, msg.due_on)
    plan["last_changed_at"] = e.occurred_at
    b.plans.put(plan, e)


# --- derived figures ----------------------------------------------------------------------


def _attainment_rows(b: _Batch, plan: Row) -> list[dict[str, Any]]:
    """Each indicator of the version in effect per period, against that version's target
    (as plan tracking measures every period), with the actual of the period's accepted
    report; none before the first approval."""
    plan_id = plan["plan_id"]
    version = b.versions.rows.get((plan_id, plan["current_version"]))
    if version is None:
        return []
    rows: list[dict[str, Any]] = []
    for index, period in enumerate(plan["periods"]):
        report = b.reports.rows.get((plan_id, period["period_id"]))
        accepted = report if report is not None and report["state"] == ACCEPTED else None
        actuals = {a["code"]: Decimal(a["value"]) for a in accepted["actuals"]} if accepted else {}
        for indicator in version["content"]["indicators"]:
            targets = {t["period_id"]: Decimal(t["value"]) for t in indicator["targets"]}
            target = targets.get(period["period_id"])
            actual = actuals.get(indicator["code"])
            baseline = Decimal(indicator["baseline_value"])
            rows.append(
                {
                    "plan_id": plan_id,
                    "period_id": period["period_id"],
                    "code": indicator["code"],
                    "period_index": index,
                    "plan_version": version["version"],
                    "name": indicator["name"],
                    "unit": indicator["unit"],
                    "direction": indicator["direction"],
                    "baseline_year": indicator["baseline_year"],
                    "baseline_value": baseline,
                    "target": target,
                    "actual": actual,
                    # No target for the period: nothing to attain, so no figure.
                    "attainment": None
                    if target is None
                    else figures.attainment(indicator["direction"], baseline, target, actual),
                    "report_state": report["state"] if report else None,
                }
            )
    return rows


def _budget_rows(b: _Batch, plan: Row) -> list[dict[str, Any]]:
    """The measures of the version in effect with what they plan, and a measure an amendment
    dropped after money was disbursed on it (described as its last approved version had it,
    planning nothing any more), each with the disbursements of the accepted reports."""
    plan_id = plan["plan_id"]
    disbursed: dict[str, list[dict[str, Any]]] = {}
    for report in b.reports.rows.values():
        if report["plan_id"] == plan_id and report["state"] == ACCEPTED:
            for d in report["disbursements"]:
                disbursed.setdefault(d["measure_id"], []).append(
                    {"on": d["on"], "amount": d["amount"], "period_id": report["period_id"]}
                )
    approved = sorted(
        (v for v in b.versions.rows.values() if v["plan_id"] == plan_id and v["effective_from"]),
        key=lambda v: v["version"],
        reverse=True,
    )
    described: dict[str, tuple[int, dict[str, Any]]] = {}
    for v in approved:
        current = v["version"] == plan["current_version"]
        for m in v["content"]["support_measures"]:
            if current or m["measure_id"] in disbursed:
                described.setdefault(m["measure_id"], (v["version"], {**m, "current": current}))
    rows = []
    for measure_id, (number, m) in sorted(described.items()):
        made = sorted(disbursed.get(measure_id, []), key=lambda d: (d["on"], d["period_id"]))
        planned = sorted(m["planned"], key=lambda d: d["on"]) if m["current"] else []
        rows.append(
            {
                "plan_id": plan_id,
                "measure_id": measure_id,
                "plan_version": number,
                "kind": m["kind"],
                "budget_source": m["budget_source"],
                "amount": Decimal(m["amount"]),
                "planned": planned,
                "disbursed": made,
                "planned_total": sum((Decimal(d["amount"]) for d in planned), Decimal(0)),
                "disbursed_total": sum((Decimal(d["amount"]) for d in made), Decimal(0)),
            }
        )
    return rows


async def _replace(
    conn: Connection,
    schema: str,
    table: str,
    columns: Sequence[str],
    plan_ids: list[str],
    rows: list[dict[str, Any]],
) -> None:
    """The derived rows of `plan_ids` in `table`, replaced by `rows`."""
    await conn.execute(f"DELETE FROM {schema}.{table} WHERE plan_id = ANY($1)", plan_ids)
    if rows:
        values = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
        await conn.executemany(
            f"INSERT INTO {schema}.{table} ({', '.join(columns)}) VALUES ({values})",
            [
                tuple(json.dumps(r[c]) if isinstance(r[c], list) else r[c] for c in columns)
                for r in rows
            ],
        )


async def apply_batch(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """Fold the batch's plan events onto the plans they touch, then derive those plans'
    attainment and budget rows afresh."""
    decoded = [(e, decode_storable(_MESSAGES[e.event_type], e.payload)) for e in events]
    plan_ids = sorted({m.plan_id for _, m in decoded})
    b = _Batch(
        *[
            await t.load(conn, schema, "plan_id", plan_ids)
            for t in (PLANS, VERSIONS, REPORTS, OVERDUE)
        ]
    )
    for e, msg in decoded:
        _fold(b, e, msg)
    for fold in (b.plans, b.versions, b.reports, b.overdue):
        await fold.save(conn, schema)
    changed = sorted(k[0] for k in b.plans.changed)
    if changed:
        plans = [b.plans.rows[(p,)] for p in changed]
        attainment = [row for plan in plans for row in _attainment_rows(b, plan)]
        budget = [row for plan in plans for row in _budget_rows(b, plan)]
        await _replace(conn, schema, "plan_attainment", ATTAINMENT_COLUMNS, changed, attainment)
        await _replace(conn, schema, "plan_budget", BUDGET_COLUMNS, changed, budget)
