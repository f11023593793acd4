"""A real browser for the dashboard and the API documentation: Debian's Chromium, installed
with apt when missing (never a browser build downloaded by a tool), driven by Playwright,
against a readside served over HTTP on 127.0.0.1 with its read models projected from the
real broker into PostgreSQL.

Every page loads with every request to anywhere but this machine aborted, so a page that
needs the internet shows it. Screenshots of each page are kept in `browsing.ARTIFACTS`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
import uvicorn
from playwright.async_api import Browser, Route, async_playwright

from konkurs_platform.settings import Settings
from konkurs_readside.bootstrap import create_app

# The dashboard's world is built by its integration tests' module (tests/integration), which
# a browser-only run has not put on the path.
sys.path.insert(0, str(Path(__file__).parents[1] / "integration"))
from browsing import LOCAL_HOSTS, Offline, Served
from test_dashboard import dashboard_world

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def chromium() -> Iterator[str]:
    """Debian's Chromium, installed with apt when it is not there (the setup runs as root)."""
    if not os.path.exists(CHROMIUM):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)
    assert shutil.which(CHROMIUM), f"no Chromium at {CHROMIUM} after apt-get install chromium"
    yield CHROMIUM


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        # --no-sandbox: Chromium refuses to start its sandbox as root, which tests run as.
        launched = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        await launched.close()


@pytest.fixture(scope="session")
async def served(settings: Settings, pool: asyncpg.Pool) -> AsyncIterator[Served]:
    world = await dashboard_world(settings, pool)
    app = create_app(world.settings, schema=world.schema)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    serving = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:
            assert not serving.done(), "the readside stopped before it started serving"
            await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Served(f"http://127.0.0.1:{port}", world)
    server.should_exit = True
    await asyncio.wait_for(serving, 30)


@pytest.fixture
async def offline(browser: Browser) -> AsyncIterator[Offline]:
    context = await browser.new_context(locale="en-GB")
    page = await context.new_page()
    tab = Offline(page)

    async def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL_HOSTS:
            await route.continue_()
        else:
            tab.blocked.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_local)

    async def dismissed(dialog: object) -> None:
        tab.dialogs.append(str(getattr(dialog, "message", dialog)))
        await dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", dismissed)
    yield tab
    await context.close()
