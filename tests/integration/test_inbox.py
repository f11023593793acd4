"""The inbox: a redelivered event has no second effect."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from konkurs_platform.inbox import Inbox

pytestmark = pytest.mark.integration


async def deliver(pool: asyncpg.Pool, inbox: Inbox, event_id: uuid.UUID, effect: list[str]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        if await inbox.claim(conn, event_id):
            effect.append(str(event_id))


async def test_a_redelivered_event_has_no_second_effect(pool: asyncpg.Pool) -> None:
    inbox = Inbox("scoring", f"test-{uuid.uuid4()}")
    effect: list[str] = []
    event_id = uuid.uuid4()
    for _ in range(3):
        await deliver(pool, inbox, event_id, effect)
    assert effect == [str(event_id)]


async def test_a_failed_effect_releases_the_event_for_redelivery(pool: asyncpg.Pool) -> None:
    inbox = Inbox("scoring", f"test-{uuid.uuid4()}")
    event_id = uuid.uuid4()
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            async with conn.transaction():
                assert await inbox.claim(conn, event_id)
                raise RuntimeError("the effect failed")
        async with conn.transaction():
            assert await inbox.claim(conn, event_id)


async def test_claim_outside_a_transaction_is_refused(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError):
            await Inbox("scoring", "x").claim(conn, uuid.uuid4())
