"""The `rankings` read model: every published version of every call's ranking, entry by
entry, with exact scores (numerator and denominator, never a rounded number) so that a reader
can recompute the content hash it carries.

A version never changes once published, so the rows are only ever inserted, and a version
seen before (the relay published it twice) is skipped whole.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC

from konkurs.scoring.v1 import ranking_pb2
from konkurs_platform.db import Connection
from konkurs_platform.envelope import Envelope
from konkurs_readside.storable import decode_storable

RANKING_PUBLISHED = ranking_pb2.RankingPublished.DESCRIPTOR.full_name

EVENT_TYPES = frozenset({RANKING_PUBLISHED})
TABLES = ("rankings", "ranking_entries")


async def on_ranking_published(conn: Connection, schema: str, e: Envelope) -> None:
    """Insert the version and its entries, unless it is there already."""
    r = decode_storable(ranking_pb2.RankingPublished, e.payload)
    criteria = [s.criterion_id for s in r.entries[0].scores] if r.entries else []
    inserted = await conn.fetchval(
        f"""INSERT INTO {schema}.rankings (call_id, ranking_version, call_version, tie_break,
                criteria, content_hash, published_at, entry_count, stream_version, event_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            ON CONFLICT DO NOTHING RETURNING true""",
        r.call_id,
        r.ranking_version,
        r.call_version,
        list(r.tie_break),
        criteria,
        r.content_hash,
        r.published_at.ToDatetime(tzinfo=UTC),
        len(r.entries),
        e.stream_version,
        e.event_id,
    )
    if not inserted:
        return
    await conn.executemany(
        f"""INSERT INTO {schema}.ranking_entries (call_id, ranking_version, rank,
                application_id, registration_number, round, scores, overall_numerator,
                overall_denominator, fundable, failed_thresholds, event_ids, decided_by)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""",
        [
            (
                r.call_id,
                r.ranking_version,
                entry.rank,
                entry.application_id,
                entry.registration_number,
                entry.round,
                json.dumps(
                    [
                        {
                            "criterion_id": s.criterion_id,
                            "numerator": s.score.numerator,
                            "denominator": s.score.denominator,
                        }
                        for s in entry.scores
                    ]
                ),
                entry.overall.numerator,
                entry.overall.denominator,
                entry.fundable,
                list(entry.failed_thresholds),
                list(entry.event_ids),
                entry.decided_by,
            )
            for entry in r.entries
        ],
    )


async def apply_batch(conn: Connection, schema: str, events: Sequence[Envelope]) -> None:
    """Apply ranking events one by one: a call publishes a handful of versions at most."""
    for e in events:
        await on_ranking_published(conn, schema, e)
