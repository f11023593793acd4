"""The plans' index in PostgreSQL: which plans exist, whose, of which call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from konkurs_plans.domain.plans import PlanOpened
from konkurs_platform.db import Connection, check_schema_name


class PostgresPlanIndex:
    """`PlanIndex` over `<schema>.plans`."""

    def __init__(self, schema: str) -> None:
        self.schema = check_schema_name(schema)

    async def add(self, conn: Connection, opened: PlanOpened, at: datetime) -> None:
        """Record a plan opened (again: nothing changes)."""
        await conn.execute(
            f"""INSERT INTO {self.schema}.plans (plan_id, call_id, registration_number,
                    cluster_name, region_code, coordinator_bin, opened_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (plan_id) DO NOTHING""",
            opened.plan_id,
            opened.call_id,
            opened.registration_number,
            opened.cluster_name,
            opened.region_code,
            opened.coordinator_bin,
            at,
        )

    async def listed(
        self, conn: Connection, *, coordinator_bin: str | None, call_id: str | None
    ) -> list[dict[str, Any]]:
        """The plans, by registration number; only the coordinator's or the call's if given."""
        rows = await conn.fetch(
            f"""SELECT plan_id, call_id, registration_number, cluster_name, region_code,
                       coordinator_bin, opened_at
                FROM {self.schema}.plans
                WHERE ($1::text IS NULL OR coordinator_bin = $1)
                  AND ($2::text IS NULL OR call_id = $2)
                ORDER BY call_id, registration_number, plan_id""",
            coordinator_bin,
            call_id,
        )
        return [dict(r) for r in rows]
