"""What the browser tests share: the served readside and a page that works offline."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Page
from test_dashboard import DashboardWorld

# Screenshots of every page, kept after the run as the tests' artifacts.
ARTIFACTS = Path(__file__).parents[2] / ".local" / "artifacts" / "browser"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


@dataclass
class Served:
    """The readside at `base`, over the dashboard's world."""

    base: str
    world: DashboardWorld


@dataclass
class Offline:
    """A browser page whose requests to anywhere but this machine are aborted, remembered in
    `blocked`; `dialogs` holds any alert, confirm or prompt a page script opened."""

    page: Page
    blocked: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    async def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
