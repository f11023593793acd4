"""A plan and its parts as JSON: dates ISO 8601, amounts and values exact decimal strings."""

from __future__ import annotations

from typing import Any

from konkurs_plans.domain.plans import Plan, PlanContent, Report, Version
from konkurs_plans.domain.progress import Progress


def _decimal(value: object) -> str | None:
    return None if value is None else str(value)


def content_view(content: PlanContent) -> dict[str, Any]:
    """A version's content."""
    return {
        "summary": content.summary,
        "milestones": [
            {
                "milestone_id": m.milestone_id,
                "title": m.title,
                "phase_id": m.phase_id,
                "owner": m.owner,
                "due_on": m.due_on.isoformat(),
                "status": m.status.value,
                "met_on": m.met_on.isoformat() if m.met_on else None,
            }
            for m in content.milestones
        ],
        "indicators": [
            {
                "code": x.code,
                "name": x.name,
                "unit": x.unit,
                "direction": x.direction.value,
                "baseline_year": x.baseline_year,
                "baseline_value": str(x.baseline_value),
                "targets": [{"period_id": t.period_id, "value": str(t.value)} for t in x.targets],
            }
            for x in content.indicators
        ],
        "support_measures": [
            {
                "measure_id": s.measure_id,
                "kind": s.kind,
                "amount": str(s.amount),
                "budget_source": s.budget_source,
                "planned": [{"on": d.on.isoformat(), "amount": str(d.amount)} for d in s.planned],
            }
            for s in content.support_measures
        ],
    }


def version_view(version: Version) -> dict[str, Any]:
    """A version with where it stands."""
    return {
        "version": version.number,
        "status": version.status,
        "reason": version.reason,
        "effective_from": version.effective_from.isoformat() if version.effective_from else None,
        "comments": list(version.comments),
        "content": content_view(version.content),
    }


def report_view(report: Report) -> dict[str, Any]:
    """A period's report as last submitted, with where it stands."""
    s = report.submitted
    return {
        "period_id": s.period_id,
        "status": report.status,
        "plan_version": s.plan_version,
        "comments": list(report.comments),
        "actuals": [
            {"code": a.code, "value": str(a.value), "evidence_sha256": list(a.evidence_sha256)}
            for a in s.actuals
        ],
        "milestones": [
            {
                "milestone_id": t.milestone_id,
                "status": t.status.value,
                "met_on": t.met_on.isoformat() if t.met_on else None,
            }
            for t in s.milestones
        ],
        "disbursements": [
            {
                "measure_id": d.measure_id,
                "on": d.disbursement.on.isoformat(),
                "amount": str(d.disbursement.amount),
            }
            for d in s.disbursements
        ],
        "narrative": s.narrative,
    }


def plan_view(plan: Plan, version: int) -> dict[str, Any]:
    """The plan: its frame, the approved version in effect, the one pending, the milestones'
    statuses, the reports' states and what fell overdue."""
    o = plan.opened
    approved, pending = plan.approved, plan.pending
    return {
        "plan_id": o.plan_id,
        "call_id": o.call_id,
        "registration_number": o.registration_number,
        "cluster_name": o.cluster_name,
        "region_code": o.region_code,
        "coordinator_bin": o.coordinator_bin,
        "time_zone": o.time_zone,
        "stream_version": version,
        "phases": [
            {
                "phase_id": p.phase_id,
                "name_ru": p.name_ru,
                "name_kk": p.name_kk,
                "name_en": p.name_en,
                "starts_on": p.starts_on.isoformat(),
                "ends_on": p.ends_on.isoformat(),
            }
            for p in o.phases
        ],
        "periods": [
            {
                "period_id": p.period_id,
                "starts_on": p.starts_on.isoformat(),
                "ends_on": p.ends_on.isoformat(),
                "report_due_on": p.report_due_on.isoformat(),
                "report": plan.reports[p.period_id].status if p.period_id in plan.reports else None,
                "overdue": p.period_id in plan.overdue_reports,
            }
            for p in o.periods
        ],
        "approved": version_view(approved) if approved else None,
        "pending": version_view(pending) if pending else None,
        "versions": [v.number for v in plan.versions],
        "milestones": [
            {
                "milestone_id": milestone_id,
                "status": tracked.status.value,
                "met_on": tracked.met_on.isoformat() if tracked.met_on else None,
                "overdue": milestone_id in plan.overdue_milestones,
            }
            for milestone_id, tracked in sorted(plan.milestones.items())
        ],
    }


def progress_view(plan_id: str, p: Progress) -> dict[str, Any]:
    """The derived figures."""
    return {
        "plan_id": plan_id,
        "on": p.on.isoformat(),
        "status": p.status,
        "attainment": [
            {
                "code": a.code,
                "period_id": a.period_id,
                "target": str(a.target),
                "actual": _decimal(a.actual),
                "attainment": _decimal(a.attainment),
            }
            for a in p.attainments
        ],
        "budget": {
            "planned_total": str(p.budget.planned_total),
            "planned_to_date": str(p.budget.planned_to_date),
            "disbursed_to_date": str(p.budget.disbursed_to_date),
            "overall": _decimal(p.budget.overall),
            "to_date": _decimal(p.budget.to_date),
        },
        "milestones_overdue": list(p.milestones_overdue),
        "reports_overdue": list(p.reports_overdue),
    }
