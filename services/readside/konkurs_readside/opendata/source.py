"""The awards as the open data is built from them: read from the `awards` read model, with
the call's programme and title (`calls`) and the coordinator's name (`applications`)."""

from __future__ import annotations

import json
from decimal import Decimal

from konkurs_platform.db import Connection
from konkurs_readside.opendata.threesixtygiving import Award, Disbursement, Measure

_AWARDS_SQL = """
SELECT a.*, coalesce(d.rationale, '') AS rationale, c.programme, c.title_en AS call_title,
    ap.coordinator_name, p.version AS plan_version, p.approved_at, p.support_measures
FROM {s}.awards a
JOIN LATERAL (
    -- The latest approved version is what the plan says.
    SELECT version, approved_at, support_measures FROM {s}.award_plan_versions v
    WHERE v.plan_id = a.application_id AND v.approved_at IS NOT NULL
    ORDER BY v.version DESC LIMIT 1
) p ON true
LEFT JOIN {s}.award_decisions d
    ON d.meeting_id = a.meeting_id AND d.application_id = a.application_id
LEFT JOIN {s}.calls c ON c.call_id = a.call_id
LEFT JOIN {s}.applications ap ON ap.application_id = a.application_id
WHERE a.replaced_cause IS NULL
ORDER BY a.call_id, a.rank, a.application_id
"""

_DISBURSEMENTS_SQL = """
SELECT plan_id, period_id, disbursements FROM {s}.award_reports
WHERE accepted AND plan_id = ANY($1)
ORDER BY plan_id, period_id
"""


async def load_awards(conn: Connection, schema: str) -> list[Award]:
    """Every award that stands and has an approved plan, call by call in ranking order, with
    the disbursements of its accepted reports in period order."""
    rows = await conn.fetch(_AWARDS_SQL.format(s=schema))
    paid: dict[str, list[Disbursement]] = {}
    for r in await conn.fetch(
        _DISBURSEMENTS_SQL.format(s=schema), [r["application_id"] for r in rows]
    ):
        paid.setdefault(r["plan_id"], []).extend(
            Disbursement(d["measure_id"], r["period_id"], d["on"], Decimal(d["amount"]))
            for d in json.loads(r["disbursements"])
        )
    return [
        Award(
            application_id=r["application_id"],
            call_id=r["call_id"],
            programme=r["programme"],
            call_title=r["call_title"],
            registration_number=r["registration_number"],
            cluster_name=r["cluster_name"],
            coordinator_bin=r["coordinator_bin"],
            coordinator_name=r["coordinator_name"],
            region_code=r["region_code"],
            rank=r["rank"],
            selected_at=r["selected_at"],
            rationale=r["rationale"],
            plan_version=r["plan_version"],
            approved_at=r["approved_at"],
            measures=tuple(
                Measure(m["measure_id"], m["kind"], Decimal(m["amount"]), m["budget_source"])
                for m in json.loads(r["support_measures"])
            ),
            disbursements=tuple(paid.get(r["application_id"], ())),
        )
        for r in rows
    ]
