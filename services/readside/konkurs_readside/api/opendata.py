"""`GET /v1/open-data/360giving.json` and `.csv`: the awards as a 360Giving Data Standard
package (`konkurs_readside.opendata`).

Public, without a token: the selected clusters, the organisations that coordinate them (by
name and BIN) and the state support granted to them are published by law once the
commission's decision is, and open data that needs an account is not open. Nothing in the
package names a person: no contact, no member of the commission, no actor of an event.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from konkurs_readside.opendata import threesixtygiving
from konkurs_readside.opendata.source import load_awards

router = APIRouter(tags=["open data"])


async def _package(request: Request) -> dict[str, Any]:
    schema: str = request.app.state.schema
    async with request.app.state.pool.acquire() as conn:
        awards = await load_awards(conn, schema)
    return threesixtygiving.package(awards, issued=datetime.now(UTC))


@router.get(
    "/v1/open-data/360giving.json",
    summary="The awards as a 360Giving Data Standard package (JSON)",
    response_class=JSONResponse,
)
async def awards_json(request: Request) -> JSONResponse:
    """One grant per support measure of each selected cluster's approved plan, with the
    disbursements of accepted reports; organisations identified as `KZ-BIN-<BIN>`."""
    return JSONResponse(
        await _package(request),
        headers={"Content-Disposition": 'inline; filename="konkurs-360giving.json"'},
    )


@router.get(
    "/v1/open-data/360giving.csv",
    summary="The awards as 360Giving's one-sheet CSV, with the standard's column titles",
    response_class=Response,
)
async def awards_csv(request: Request) -> Response:
    """The JSON package's grants flattened by flattentool, one row per grant: the columns
    any 360Giving tool reads (`Identifier`, `Amount Awarded`, `Recipient Org:Identifier`,
    ...). Disbursement transactions are in the JSON only; `Amount Disbursed` sums them."""
    pkg = await _package(request)
    # flattentool writes files and takes its time: off the event loop.
    text = await asyncio.to_thread(threesixtygiving.to_csv, pkg)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="konkurs-360giving.csv"'},
    )
