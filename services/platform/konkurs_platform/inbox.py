"""The inbox: exactly-once effects for at-least-once consumers.

A consumer calls `claim` inside the transaction that carries its effect. The first delivery
inserts the (consumer, event id) row and goes on; a redelivery finds the row, `claim`
returns False and the consumer skips the effect. Both commit or neither does.
"""

from __future__ import annotations

import uuid

from konkurs_platform.db import Connection, check_schema_name


class Inbox:
    """The processed-event ids of one consumer in one service schema."""

    def __init__(self, schema: str, consumer: str) -> None:
        self.consumer = consumer
        self._claim_sql = (
            f"INSERT INTO {check_schema_name(schema)}.inbox (consumer, event_id) VALUES ($1, $2) "
            "ON CONFLICT DO NOTHING"
        )

    async def claim(self, conn: Connection, event_id: uuid.UUID) -> bool:
        """Record `event_id` as processed; False if it already was (skip the effect).

        Must run inside the transaction that performs the effect.
        """
        if not conn.is_in_transaction():
            raise RuntimeError("Inbox.claim must run inside the effect's transaction")
        status = await conn.execute(self._claim_sql, self.consumer, event_id)
        return status.endswith(" 1")
