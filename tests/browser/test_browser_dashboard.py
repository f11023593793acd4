"""The dashboard in Chromium with no internet: signing in through the form, the figures on
each page equal to the read-model API's, the language switch, an analyst's pages without
contact data, hostile names shown as text with no script run, and a screenshot of every page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from browsing import Offline, Served
from test_dashboard import CONTACT, HOSTILE

from konkurs_platform.auth import Role

pytestmark = pytest.mark.integration


async def sign_in(tab: Offline, served: Served, role: Role) -> None:
    """Through the form, as a person would: the token pasted, the button pressed."""
    await tab.page.goto(f"{served.base}/dashboard")
    await tab.page.fill("#token", served.world.token(role))
    await tab.page.click("form.login button[type=submit]")
    await tab.page.wait_for_url(f"{served.base}/dashboard")


async def api(served: Served, path: str, role: Role = Role.OPERATOR) -> Any:
    """The read-model API's answer, from the same server."""
    token = served.world.token(role)
    async with httpx.AsyncClient(base_url=served.base) as http:
        answer = await http.get(path, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def values(tab: Offline, rows: str) -> dict[str, str]:
    """The first `data-value` cell of each row with the data attribute `rows`, by its value."""
    found: dict[str, str] = await tab.page.eval_on_selector_all(
        f"tr[data-{rows}]",
        f"""rows => Object.fromEntries(rows.map(r => [
            r.dataset["{rows}"], r.querySelector("td[data-value]").dataset.value]))""",
    )
    return found


async def test_every_page_shows_the_apis_figures_offline_and_is_kept_as_a_screenshot(
    offline: Offline, served: Served
) -> None:
    call = served.world.call
    await sign_in(offline, served, Role.OPERATOR)
    await offline.screenshot("calls")
    await offline.page.click(f"a[href='/dashboard/calls/{call}']")
    await offline.page.wait_for_selector("#funnel")
    await offline.screenshot("overview")
    summary = await api(served, f"/v1/calls/{call}/summary")
    regions = await values(offline, "region")
    assert {code: int(n) for code, n in regions.items()} == {
        r["region_code"]: r["applications"] for r in summary["by_region"]
    }
    funnel = await values(offline, "stage")
    screening = await api(served, f"/v1/calls/{call}/screening")
    assert (funnel["received"], funnel["eligible"]) == (
        str(summary["applications"]),
        str(screening["eligible"]),
    )

    await offline.page.click("nav.tabs a[href$='/evaluation']")
    await offline.page.wait_for_selector("#ranking table")
    await offline.screenshot("evaluation")
    ranking = await api(served, f"/v1/calls/{call}/ranking")
    ranks = await values(offline, "rank")
    assert ranks == {str(e["rank"]): e["overall"]["exact"] for e in ranking["entries"]}
    for tab in ("commission", "plans"):
        await offline.page.click(f"nav.tabs a[href$='/{tab}']")
        await offline.page.wait_for_selector(f"nav.tabs a[href$='/{tab}'][aria-current=page]")
        await offline.screenshot(tab)

    await offline.page.click("form.session button[type=submit]")
    await offline.page.wait_for_url(f"{served.base}/dashboard/login")
    await sign_in(offline, served, Role.AUDITOR)
    first = served.world.story.apps[0]
    await offline.page.goto(f"{served.base}/dashboard/calls/{call}")
    await offline.page.click(f"a[href='/dashboard/applications/{first}/audit']")
    await offline.page.wait_for_selector("#history")
    await offline.screenshot("audit")
    history = await api(served, f"/v1/audit/streams/application-{first}", Role.AUDITOR)
    shown = await offline.page.eval_on_selector_all(
        "#history tr[data-seq]", "rows => rows.map(r => Number(r.dataset.seq))"
    )
    assert {e["seq"] for e in history["events"]} <= set(shown)
    assert offline.blocked == [], f"the dashboard asked the internet for {offline.blocked}"


async def test_the_language_switch_changes_the_page_and_holds_for_the_next(
    offline: Offline, served: Served
) -> None:
    call = served.world.call
    await sign_in(offline, served, Role.ANALYST)
    await offline.page.goto(f"{served.base}/dashboard/calls/{call}")
    assert await offline.page.get_attribute("html", "lang") == "en"
    assert await offline.page.inner_text("#by-region h2") == "By region"
    await offline.page.click("a[data-lang=kk]")
    await offline.page.wait_for_selector("html[lang=kk]")
    assert await offline.page.inner_text("#by-region h2") == "Өңірлер бойынша"
    await offline.screenshot("overview-kk")
    await offline.page.click("nav.tabs a[href$='/evaluation']")
    await offline.page.wait_for_selector("#ranking")
    assert await offline.page.get_attribute("html", "lang") == "kk"
    await offline.page.click("a[data-lang=ru]")
    await offline.page.wait_for_selector("html[lang=ru]")
    assert await offline.page.inner_text("#ranking h2") == "Рейтинг · версия 2"
    await offline.screenshot("evaluation-ru")


async def test_an_analyst_sees_no_contact_data_and_no_script_reads_the_session(
    offline: Offline, served: Served
) -> None:
    call = served.world.call
    await sign_in(offline, served, Role.ANALYST)
    for path in (f"/dashboard/calls/{call}", f"/dashboard/calls/{call}/evaluation"):
        await offline.page.goto(f"{served.base}{path}")
        text = await offline.page.inner_text("body")
        assert not [c for c in CONTACT if c in text], f"{path} shows contact data to an analyst"
    # HttpOnly: the token is in the browser, out of every script's reach.
    assert "konkurs_dashboard=" not in await offline.page.evaluate("document.cookie")
    (session,) = [
        c for c in await offline.page.context.cookies() if c["name"] == "konkurs_dashboard"
    ]
    assert (session["httpOnly"], session["sameSite"], session["path"]) == (
        True,
        "Strict",
        "/dashboard",
    )


async def test_a_hostile_cluster_name_is_shown_as_text_and_runs_nothing(
    offline: Offline, served: Served
) -> None:
    call = served.world.call
    first = served.world.story.apps[0]
    await sign_in(offline, served, Role.OPERATOR)
    await offline.page.goto(f"{served.base}/dashboard/calls/{call}")
    cell = offline.page.locator(f"tr[data-application='{first}'] td.cluster-name")
    assert await cell.inner_text() == HOSTILE
    assert await offline.page.locator("main script, main img").count() == 0
    assert offline.dialogs == []
