"""The API documentation pages in Chromium with every request off this machine aborted:
Swagger UI and ReDoc render the service's operations from assets the service serves."""

from __future__ import annotations

import pytest
from browsing import Offline, Served

pytestmark = pytest.mark.integration


async def test_swagger_ui_renders_the_operations_with_no_network(
    offline: Offline, served: Served
) -> None:
    await offline.page.goto(f"{served.base}/docs")
    title = offline.page.locator(".swagger-ui .info .title")
    await title.wait_for()
    assert "konkurs readside" in await title.inner_text()
    await offline.page.locator(".opblock-summary-path[data-path='/dashboard']").wait_for()
    await offline.screenshot("docs")
    assert offline.blocked == [], f"/docs asked the internet for {offline.blocked}"


async def test_redoc_renders_the_operations_with_no_network(
    offline: Offline, served: Served
) -> None:
    await offline.page.goto(f"{served.base}/redoc")
    await offline.page.get_by_role("heading", name="konkurs readside").first.wait_for()
    await offline.page.get_by_text("/v1/calls/{call_id}/summary").first.wait_for(state="attached")
    await offline.screenshot("redoc")
    assert offline.blocked == [], f"/redoc asked the internet for {offline.blocked}"
