"""`IdempotencyStore`: a key is claimed in one statement; concurrent requests with the same
key queue on it, and the second finds the first's answer; a claim that stored no answer
leaves the key unused."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from konkurs_platform.idempotency import IdempotencyKeyError, IdempotencyStore, StoredAnswer

pytestmark = pytest.mark.integration

STORE = IdempotencyStore("intake")
ANSWER = StoredAnswer(201, {"Location": "/v1/x"}, b'{"id": 1}')


async def test_a_second_request_with_the_key_waits_for_the_first_and_gets_its_answer(
    pool: asyncpg.Pool,
) -> None:
    key = str(uuid.uuid4())
    first_claimed = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> StoredAnswer | None:
        async with pool.acquire() as conn, conn.transaction():
            prior = await STORE.begin(conn, "applicant:a", key, "hash-1")
            first_claimed.set()
            await release_first.wait()
            await STORE.save(conn, "applicant:a", key, "hash-1", ANSWER)
            return prior

    async def second() -> StoredAnswer | None:
        await first_claimed.wait()
        async with pool.acquire() as conn, conn.transaction():
            return await STORE.begin(conn, "applicant:a", key, "hash-1")

    first_task = asyncio.create_task(first())
    second_task = asyncio.create_task(second())
    await first_claimed.wait()
    # The second is blocked on the claimed row while the first is still open.
    done, _ = await asyncio.wait({second_task}, timeout=0.5)
    assert not done
    release_first.set()
    assert await first_task is None
    assert await second_task == ANSWER


async def test_a_key_whose_request_rolled_back_or_stored_no_answer_is_claimed_afresh(
    pool: asyncpg.Pool,
) -> None:
    key = str(uuid.uuid4())
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            assert await STORE.begin(conn, "applicant:a", key, "hash-1") is None
            raise RuntimeError("the request failed")
    async with pool.acquire() as conn, conn.transaction():
        # A request answered with a status that is not remembered: its claim commits empty.
        assert await STORE.begin(conn, "applicant:a", key, "hash-1") is None
    async with pool.acquire() as conn, conn.transaction():
        assert await STORE.begin(conn, "applicant:a", key, "hash-2") is None
        await STORE.save(conn, "applicant:a", key, "hash-2", ANSWER)
    async with pool.acquire() as conn, conn.transaction():
        assert await STORE.begin(conn, "applicant:a", key, "hash-2") == ANSWER
        with pytest.raises(IdempotencyKeyError):
            await STORE.begin(conn, "applicant:a", key, "hash-3")
    async with pool.acquire() as conn, conn.transaction():
        # Keys are per caller.
        assert await STORE.begin(conn, "applicant:b", key, "hash-3") is None
