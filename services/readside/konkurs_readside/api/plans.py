"""The development plans of the selected clusters: their progress and status, every version
(and what the plan said at a given time), the reports, the attainment of each indicator per
period, budget execution per measure and plan, and the operator's list of overdue items.

Who sees what:
- a coordinator (an applicant token whose organisation is the plan's coordinator BIN): its own
  plan, every version of it drafts included; another plan is a 403;
- operators, admins and auditors: every plan and every version, with who acted;
- analysts: every plan and its progress, the approved versions only, and no person: actors
  appear by their role, never by their subject;
- any other role: 403.
Every event of a plan, with the exact bytes published, is in the audit log
(`/v1/audit/streams/plan-<plan_id>`, for auditors).

A plan's status (on-track, at-risk, late) and what is overdue are figures on a date (`on`,
today in the call's time zone when left out), computed by plan tracking's rules
(`plan_figures`) from what is known now: the milestones as approved versions and accepted
reports left them, the reports submitted, the attainment in the latest accepted report. A
plan not approved yet has no status. Figures are exact decimals written as strings
("0.8333"), null when unknown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime

from konkurs_platform.auth import Principal, Role, forbidden, require
from konkurs_platform.problems import NOT_FOUND, Problem, problem_responses
from konkurs_readside.api.parameters import Identifier
from konkurs_readside.api.scope import STAFF, Where
from konkurs_readside.projections import plan_figures as figures

router = APIRouter(tags=["plans"])

PLAN_READERS = (*STAFF, Role.ANALYST, Role.APPLICANT)
OVERDUE_READERS = (*STAFF, Role.ANALYST)
# The states of a version that was the plan at some time.
DECIDED = ("approved", "superseded")

PlanStatus = Literal["on_track", "at_risk", "late"]
On = Annotated[
    date | None,
    Query(description="The figures on this date; today in the call's time zone if left out."),
]

_PLAN_COLUMNS = (
    "plan_id, call_id, registration_number, cluster_name, region_code, coordinator_bin, "
    "time_zone, phases, periods, current_version, pending_version, pending_state, milestones, "
    "latest_accepted_period, opened_at, last_changed_at, stream_version"
)


def _schema(request: Request) -> str:
    schema: str = request.app.state.schema
    return schema


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _figure(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _sees_people(principal: Principal) -> bool:
    return principal.role in STAFF


def _who(principal: Principal, subject: str | None, role: str | None) -> dict[str, Any] | None:
    """Who acted: the role, and the subject (a person) only for staff."""
    if role is None and subject is None:
        return None
    out: dict[str, Any] = {"role": role}
    if _sees_people(principal):
        out["subject"] = subject
    return out


def _restrict(principal: Principal, where: Where) -> None:
    """A coordinator reads its own plans only."""
    if principal.role is Role.APPLICANT:
        where.add("coordinator_bin = {0}", principal.organisation)


@dataclass(frozen=True)
class _Progress:
    """A plan's figures on a date: what is overdue then, and its status."""

    on: date
    milestones_overdue: list[dict[str, Any]]
    reports_overdue: list[dict[str, Any]]
    status: str | None


def _progress(
    row: Any, reported: set[str], latest: Sequence[Decimal | None], on: date
) -> _Progress:
    """The figures of the plan in `row` on `on`, as plan tracking computes them: a milestone
    of the version in effect past its due date and not settled, a period past its report's
    due date without a report ever submitted; at risk by the attainments `latest` of the
    latest accepted report. Nothing to measure before the first approval."""
    if row["current_version"] is None:
        return _Progress(on, [], [], None)
    milestones = [
        m
        for m in json.loads(row["milestones"])
        if figures.is_milestone_overdue(m["status"], date.fromisoformat(m["due_on"]), on)
    ]
    reports = [
        p
        for p in json.loads(row["periods"])
        if figures.is_report_overdue(
            p["period_id"] in reported, date.fromisoformat(p["report_due_on"]), on
        )
    ]
    return _Progress(
        on, milestones, reports, figures.plan_status(len(milestones), len(reports), latest)
    )


async def progress_of(conn: Any, s: str, rows: Sequence[Any], on: date | None) -> list[_Progress]:
    """The figures of each plan of `rows` on `on` (each plan's today when None)."""
    ids = [r["plan_id"] for r in rows]
    reported: dict[str, set[str]] = {}
    for r in await conn.fetch(
        f"SELECT plan_id, period_id FROM {s}.plan_reports WHERE plan_id = ANY($1)", ids
    ):
        reported.setdefault(r["plan_id"], set()).add(r["period_id"])
    latest: dict[str, list[Decimal | None]] = {}
    for r in await conn.fetch(
        f"""SELECT a.plan_id, a.attainment FROM {s}.plan_attainment a
            JOIN {s}.plans p ON p.plan_id = a.plan_id AND p.latest_accepted_period = a.period_id
            WHERE a.plan_id = ANY($1)""",
        ids,
    ):
        latest.setdefault(r["plan_id"], []).append(r["attainment"])
    return [
        _progress(
            r,
            reported.get(r["plan_id"], set()),
            latest.get(r["plan_id"], []),
            on or _today(r),
        )
        for r in rows
    ]


def _summary(row: Any, progress: _Progress) -> dict[str, Any]:
    return {
        "plan_id": row["plan_id"],
        "call_id": row["call_id"],
        "registration_number": row["registration_number"],
        "cluster_name": row["cluster_name"],
        "region_code": row["region_code"],
        "coordinator_bin": row["coordinator_bin"],
        "current_version": row["current_version"],
        "pending_version": row["pending_version"],
        "pending_state": row["pending_state"],
        "on": progress.on.isoformat(),
        "status": progress.status,
        "milestones_overdue": len(progress.milestones_overdue),
        "reports_overdue": len(progress.reports_overdue),
        "latest_accepted_period": row["latest_accepted_period"],
        "opened_at": _iso(row["opened_at"]),
        "last_changed_at": _iso(row["last_changed_at"]),
        "stream_version": row["stream_version"],
    }


async def _plan(request: Request, conn: Any, principal: Principal, plan_id: str) -> Any:
    """The plan's row: 404 when the read model has none, 403 outside the caller's scope."""
    row = await conn.fetchrow(
        f"SELECT {_PLAN_COLUMNS} FROM {_schema(request)}.plans WHERE plan_id = $1", plan_id
    )
    if row is None:
        raise Problem(NOT_FOUND, f"No plan {plan_id} in the read model (yet).")
    if principal.role is Role.APPLICANT and row["coordinator_bin"] != principal.organisation:
        raise forbidden(request, principal, "a coordinator sees its own cluster's plan only")
    return row


def _today(row: Any) -> date:
    """Today in the call's time zone, where the plan's dates are."""
    return datetime.now(ZoneInfo(row["time_zone"])).date()


@router.get("/v1/plans", responses=problem_responses(401, 403, 422), summary="Plans")
async def list_plans(
    request: Request,
    principal: Annotated[Principal, Depends(require(*PLAN_READERS))],
    on: On = None,
    call_id: Annotated[Identifier | None, Query(description="Only this call's plans.")] = None,
    status: Annotated[PlanStatus | None, Query(description="Only plans in this status.")] = None,
) -> dict[str, Any]:
    """Every plan the caller may read, by call and registration number: its workflow, its
    status on `on` (null before the first approval) with the overdue counts behind it, and its
    budget totals (planned, and disbursed in accepted reports)."""
    s = _schema(request)
    w = Where()
    _restrict(principal, w)
    if call_id is not None:
        w.add("call_id = {0}", call_id)
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT p.*, coalesce(b.planned, 0) AS planned, coalesce(b.disbursed, 0) AS disbursed
                FROM (SELECT {_PLAN_COLUMNS} FROM {s}.plans WHERE {w.sql()}) p
                LEFT JOIN (SELECT plan_id, sum(planned_total) AS planned,
                        sum(disbursed_total) AS disbursed
                    FROM {s}.plan_budget GROUP BY plan_id) b USING (plan_id)
                ORDER BY p.call_id, p.registration_number, p.plan_id""",
            *w.params,
        )
        progress = await progress_of(conn, s, rows, on)
    plans = [
        {
            **_summary(r, p),
            "budget": {
                "planned_total": str(r["planned"]),
                "disbursed_total": str(r["disbursed"]),
            },
        }
        for r, p in zip(rows, progress, strict=True)
        if status is None or p.status == status
    ]
    by_status: dict[str, int] = {}
    for plan in plans:
        key = plan["status"] or "not_approved"
        by_status[key] = by_status.get(key, 0) + 1
    return {"plans": plans, "by_status": by_status}


def overdue_of(progress: _Progress, marks: dict[tuple[str, str], datetime]) -> list[dict[str, Any]]:
    """What is overdue on the progress's date, oldest due first, with the timers' marks."""
    items = [("milestone", m["milestone_id"], m["due_on"]) for m in progress.milestones_overdue] + [
        ("report", p["period_id"], p["report_due_on"]) for p in progress.reports_overdue
    ]
    return [
        {"kind": kind, "item_id": item, "due_on": due, "marked_at": _iso(marks.get((kind, item)))}
        for kind, item, due in sorted(items, key=lambda i: (i[2], i[0], i[1]))
    ]


async def overdue_marks(
    conn: Any, s: str, plan_ids: list[str]
) -> dict[str, dict[tuple[str, str], datetime]]:
    """When the timers marked each plan's items overdue."""
    marks: dict[str, dict[tuple[str, str], datetime]] = {}
    for r in await conn.fetch(
        f"SELECT plan_id, kind, item_id, marked_at FROM {s}.plan_overdue WHERE plan_id = ANY($1)",
        plan_ids,
    ):
        marks.setdefault(r["plan_id"], {})[(r["kind"], r["item_id"])] = r["marked_at"]
    return marks


@router.get(
    "/v1/plans/{plan_id}",
    responses=problem_responses(401, 403, 404, 422),
    summary="A plan's progress, and what it said at a given time",
)
async def get_plan(
    plan_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*PLAN_READERS))],
    on: On = None,
    at: Annotated[
        AwareDatetime | None,
        Query(description="Show the version in effect at this time; the current one if left out."),
    ] = None,
) -> dict[str, Any]:
    """The plan's phases and periods (each with its report's state), its status and what is
    overdue on `on`, and the version in effect: now, with the milestones as approved versions
    and accepted reports left them, or at `at`, as that version was approved (null before
    the first approval)."""
    s = _schema(request)
    async with request.app.state.pool.acquire() as conn:
        row = await _plan(request, conn, principal, plan_id)
        versions = await conn.fetch(
            f"""SELECT version, content, reason, effective_from, effective_to
                FROM {s}.plan_versions WHERE plan_id = $1 AND state = ANY($2::text[])
                ORDER BY version""",
            plan_id,
            list(DECIDED),
        )
        reports = {
            r["period_id"]: r["state"]
            for r in await conn.fetch(
                f"SELECT period_id, state FROM {s}.plan_reports WHERE plan_id = $1", plan_id
            )
        }
        (progress,) = await progress_of(conn, s, [row], on)
        marks = await overdue_marks(conn, s, [plan_id])
    if at is None:
        chosen = [v for v in versions if v["version"] == row["current_version"]]
    else:
        chosen = [
            v
            for v in versions
            if v["effective_from"] <= at and (v["effective_to"] is None or at < v["effective_to"])
        ]
    version = None
    if chosen:
        (v,) = chosen
        content = json.loads(v["content"])
        if at is None:
            content["milestones"] = json.loads(row["milestones"])
        version = {
            "version": v["version"],
            "reason": v["reason"],
            "effective_from": _iso(v["effective_from"]),
            "effective_to": _iso(v["effective_to"]),
            "content": content,
        }
    return {
        **_summary(row, progress),
        "time_zone": row["time_zone"],
        "phases": json.loads(row["phases"]),
        "periods": [
            {**p, "report": reports.get(p["period_id"])} for p in json.loads(row["periods"])
        ],
        "overdue": overdue_of(progress, marks.get(plan_id, {})),
        "at": _iso(at),
        "version": version,
    }


@router.get(
    "/v1/plans/{plan_id}/versions",
    responses=problem_responses(401, 403, 404, 422),
    summary="Every version of a plan, with its content, reason and decision",
)
async def plan_versions(
    plan_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*PLAN_READERS))],
) -> dict[str, Any]:
    """Versions in order: as drafted (the last draft of each), submitted, returned with the
    operator's comments, approved and in effect from when until when. Analysts get the
    versions that were the plan at some time, no draft."""
    s = _schema(request)
    condition = "" if principal.role is not Role.ANALYST else "AND state = ANY($2::text[])"
    async with request.app.state.pool.acquire() as conn:
        await _plan(request, conn, principal, plan_id)
        rows = await conn.fetch(
            f"SELECT * FROM {s}.plan_versions WHERE plan_id = $1 {condition} ORDER BY version",
            plan_id,
            *([list(DECIDED)] if condition else []),
        )
    return {
        "plan_id": plan_id,
        "versions": [
            {
                "version": r["version"],
                "state": r["state"],
                "reason": r["reason"],
                "comments": r["comments"],
                "drafted_at": _iso(r["drafted_at"]),
                "drafted_by": _who(principal, r["drafted_by"], r["drafted_by_role"]),
                "submitted_at": _iso(r["submitted_at"]),
                "returned_at": _iso(r["returned_at"]),
                "decided_by": _who(principal, r["decided_by"], r["decided_by_role"]),
                "effective_from": _iso(r["effective_from"]),
                "effective_to": _iso(r["effective_to"]),
                "content": json.loads(r["content"]),
            }
            for r in rows
        ],
    }


@router.get(
    "/v1/plans/{plan_id}/reports",
    responses=problem_responses(401, 403, 404, 422),
    summary="The reports on a plan's periods",
)
async def plan_reports(
    plan_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*PLAN_READERS))],
) -> dict[str, Any]:
    """Each period's report as last submitted (actuals with their evidence hashes, milestone
    transitions, disbursements, narrative) and the operator's decision, in period order."""
    s = _schema(request)
    async with request.app.state.pool.acquire() as conn:
        row = await _plan(request, conn, principal, plan_id)
        rows = {
            r["period_id"]: r
            for r in await conn.fetch(f"SELECT * FROM {s}.plan_reports WHERE plan_id = $1", plan_id)
        }
    reports = []
    for period in json.loads(row["periods"]):
        r = rows.get(period["period_id"])
        if r is None:
            continue
        reports.append(
            {
                "period_id": r["period_id"],
                "plan_version": r["plan_version"],
                "state": r["state"],
                "actuals": json.loads(r["actuals"]),
                "milestones": json.loads(r["milestones"]),
                "disbursements": json.loads(r["disbursements"]),
                "narrative": r["narrative"],
                "comments": r["comments"],
                "submissions": r["submissions"],
                "submitted_at": _iso(r["submitted_at"]),
                "submitted_by": _who(principal, r["submitted_by"], "applicant"),
                "decided_at": _iso(r["decided_at"]),
                "decided_by": _who(principal, r["decided_by"], r["decided_by_role"]),
            }
        )
    return {"plan_id": plan_id, "reports": reports}


@router.get(
    "/v1/plans/{plan_id}/attainment",
    responses=problem_responses(401, 403, 404, 422),
    summary="Each indicator's attainment per period",
)
async def plan_attainment(
    plan_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*PLAN_READERS))],
) -> dict[str, Any]:
    """Per indicator, per period: the target (of the version the accepted report was made
    against, or of the current version), the actual from the accepted report (null when
    unknown), and the attainment from the baseline towards the target in the indicator's
    direction: 1 reached, above 1 overshot, below 0 worse than the baseline, null unknown."""
    s = _schema(request)
    async with request.app.state.pool.acquire() as conn:
        await _plan(request, conn, principal, plan_id)
        rows = await conn.fetch(
            f"SELECT * FROM {s}.plan_attainment WHERE plan_id = $1 ORDER BY code, period_index",
            plan_id,
        )
    indicators: dict[str, dict[str, Any]] = {}
    for r in rows:
        indicator = indicators.setdefault(
            r["code"],
            {
                "code": r["code"],
                "name": r["name"],
                "unit": r["unit"],
                "direction": r["direction"],
                "baseline_year": r["baseline_year"],
                "baseline_value": str(r["baseline_value"]),
                "periods": [],
            },
        )
        indicator["periods"].append(
            {
                "period_id": r["period_id"],
                "plan_version": r["plan_version"],
                "target": _figure(r["target"]),
                "actual": _figure(r["actual"]),
                "attainment": _figure(r["attainment"]),
                "report": r["report_state"],
            }
        )
    return {"plan_id": plan_id, "indicators": list(indicators.values())}


def _execution(e: figures.BudgetExecution) -> dict[str, Any]:
    return {
        "planned_total": str(e.planned_total),
        "planned_to_date": str(e.planned_to_date),
        "disbursed_to_date": str(e.disbursed_to_date),
        "overall": _figure(e.overall),
        "to_date": _figure(e.to_date),
    }


def _dated(entries: list[dict[str, Any]]) -> list[tuple[date, Decimal]]:
    return [(date.fromisoformat(d["on"]), Decimal(d["amount"])) for d in entries]


@router.get(
    "/v1/plans/{plan_id}/budget",
    responses=problem_responses(401, 403, 404, 422),
    summary="Budget execution of a plan, per support measure and overall",
)
async def plan_budget(
    plan_id: Identifier,
    request: Request,
    principal: Annotated[Principal, Depends(require(*PLAN_READERS))],
    on: On = None,
) -> dict[str, Any]:
    """Per support measure and for the plan: disbursed (in accepted reports) up to `on`
    against everything planned (`overall`) and against what was planned up to `on`
    (`to_date`); null when nothing is planned to execute against."""
    s = _schema(request)
    async with request.app.state.pool.acquire() as conn:
        row = await _plan(request, conn, principal, plan_id)
        rows = await conn.fetch(
            f"SELECT * FROM {s}.plan_budget WHERE plan_id = $1 ORDER BY measure_id", plan_id
        )
    on = on or _today(row)
    measures = []
    planned: list[tuple[date, Decimal]] = []
    disbursed: list[tuple[date, Decimal]] = []
    for r in rows:
        mine = _dated(json.loads(r["planned"]))
        made = json.loads(r["disbursed"])
        planned += mine
        disbursed += _dated(made)
        measures.append(
            {
                "measure_id": r["measure_id"],
                "plan_version": r["plan_version"],
                "kind": r["kind"],
                "budget_source": r["budget_source"],
                "amount": str(r["amount"]),
                "planned": json.loads(r["planned"]),
                "disbursed": made,
                "execution": _execution(figures.budget_execution(mine, _dated(made), on)),
            }
        )
    return {
        "plan_id": plan_id,
        "on": on.isoformat(),
        "execution": _execution(figures.budget_execution(planned, disbursed, on)),
        "measures": measures,
    }


@router.get(
    "/v1/overdue",
    responses=problem_responses(401, 403, 422),
    summary="The operator's list: overdue milestones and reports of every plan",
)
async def overdue_items(
    request: Request,
    principal: Annotated[Principal, Depends(require(*OVERDUE_READERS))],
    on: On = None,
    call_id: Annotated[Identifier | None, Query(description="Only this call's plans.")] = None,
) -> dict[str, Any]:
    """Every milestone of a plan in effect whose due date passed unsettled and every report
    not submitted by its due date, on `on`, oldest due first, with the plan it belongs to
    and when the plans service's timer marked it (null while not marked yet)."""
    s = _schema(request)
    w = Where()
    w.add("current_version IS NOT NULL")
    if call_id is not None:
        w.add("call_id = {0}", call_id)
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT {_PLAN_COLUMNS} FROM {s}.plans WHERE {w.sql()}", *w.params)
        progress = await progress_of(conn, s, rows, on)
        marks = await overdue_marks(conn, s, [r["plan_id"] for r in rows])
    items = [
        {
            "plan_id": r["plan_id"],
            "call_id": r["call_id"],
            "registration_number": r["registration_number"],
            "cluster_name": r["cluster_name"],
            "region_code": r["region_code"],
            "coordinator_bin": r["coordinator_bin"],
            "on": p.on.isoformat(),
            **item,
        }
        for r, p in zip(rows, progress, strict=True)
        for item in overdue_of(p, marks.get(r["plan_id"], {}))
    ]
    items.sort(
        key=lambda i: (i["due_on"], i["registration_number"], i["plan_id"], i["kind"], i["item_id"])
    )
    return {"items": items}
