"""The console page in a real headless Chromium: figures shown equal the API's, the date range and the
organization filter change them, and each section is saved as a screenshot under test-output/console/."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.console.workload import EMAIL_ORG, EXPECTED_TOTALS, TODAY
from tests.support.collector import CONSOLE_TOKEN, CollectorProcess

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SECTIONS = ("section-lines", "section-acceptance", "section-activity", "section-spend", "section-team")


def _require_browser() -> None:
    if CHROMIUM and CHROMEDRIVER:
        return
    reason = "headless Chromium needs the Debian packages chromium and chromium-driver (installed by .ci/run)"
    if os.environ.get("CC_ANALYTICS_REQUIRE_E2E") == "1":
        pytest.fail(reason + ", and CC_ANALYTICS_REQUIRE_E2E=1")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1200",
                     "--disable-gpu", "--no-first-run"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_ready(driver: Any, previous: str | None = None) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d: Any) -> bool:
        body = d.find_element("tag name", "body")
        state = body.get_attribute("data-state")
        if state == "error":
            raise AssertionError(d.find_element("id", "status").text)
        return state == "ready" and body.get_attribute("data-range") != previous

    WebDriverWait(driver, 30, poll_frequency=0.1).until(ready)


def _figure(driver: Any, element_id: str) -> str:
    return driver.find_element("id", element_id).get_attribute("data-value")


def _shown(driver: Any) -> dict[str, Any]:
    """Everything the page shows, read from the DOM and from the Plotly charts' own data."""
    script = """
      const y = (id, n) => Array.from(document.getElementById(id).data[n].y);
      const x = (id) => Array.from(document.getElementById(id).data[0].x);
      return {
        days: x('chart-lines'), lines: y('chart-lines', 0), rate: y('chart-acceptance', 0),
        users: y('chart-activity', 0), sessions: y('chart-activity', 1),
        spend_users: y('chart-spend', 0), spend: y('chart-spend', 1),
        tools: Array.from(document.querySelectorAll('#acceptance-by-tool tbody tr')).map(
          (row) => Array.from(row.cells).map((cell) => cell.dataset.value)),
        team: Array.from(document.querySelectorAll('#team-table tbody tr')).map(
          (row) => Array.from(row.cells).map((cell) => cell.dataset.value)),
      };
    """
    shown = driver.execute_script(script)
    for name in ("accepted-lines", "removed-lines", "acceptance-rate", "active-users", "sessions", "spend"):
        shown[f"total-{name}"] = _figure(driver, f"total-{name}")
    return shown


def _expected(collector: CollectorProcess, start: str, end: str, org: str = "") -> dict[str, Any]:
    params = {"org": org} if org else {}
    view = collector.analytics(start, end, **params)
    team = collector.team(end[:7], **params)
    totals = view["totals"]
    return {
        "days": [day["date"] for day in view["days"]],
        "lines": [day["accepted_lines"] for day in view["days"]],
        "rate": [day["acceptance_rate"] for day in view["days"]],
        "users": [day["active_users"] for day in view["days"]],
        "sessions": [day["sessions"] for day in view["days"]],
        "spend_users": [day["active_users"] for day in view["days"]],
        "spend": [day["spend_usd"] for day in view["days"]],
        "tools": [[tool, str(f["accepts"]), str(f["rejects"]), "null" if f["acceptance_rate"] is None else str(f["acceptance_rate"])]
                  for tool, f in view["acceptance_by_tool"].items()],
        "team": [[m["member"], str(m["spend_usd"]), str(m["accepted_lines"]), str(m["sessions"]), m["last_active"]]
                 for m in team["members"]],
        "total-accepted-lines": str(totals["accepted_lines"]),
        "total-removed-lines": str(totals["removed_lines"]),
        "total-acceptance-rate": "null" if totals["acceptance_rate"] is None else str(totals["acceptance_rate"]),
        "total-active-users": str(totals["active_users"]),
        "total-sessions": str(totals["sessions"]),
        "total-spend": str(totals["spend_usd"]),
    }  # fmt: skip


def _normalise(shown: dict[str, Any]) -> dict[str, Any]:
    # JS hands back whole floats as ints and JSON numbers as they were; compare as numbers.
    def number(value: Any) -> Any:
        return float(value) if isinstance(value, int | float) else value

    out = dict(shown)
    for key in ("lines", "rate", "users", "sessions", "spend_users", "spend"):
        out[key] = [number(value) for value in shown[key]]
    for name in ("accepted-lines", "removed-lines", "active-users", "sessions", "spend", "acceptance-rate"):
        key = f"total-{name}"
        out[key] = shown[key] if shown[key] == "null" else float(shown[key])
    out["tools"] = sorted((row[0], *(v if v == "null" else float(v) for v in row[1:])) for row in shown["tools"])
    out["team"] = sorted(tuple(row[:1]) + tuple(float(v) for v in row[1:4]) + (row[4],) for row in shown["team"])
    return out


def _check(driver: Any, collector: CollectorProcess, days: int, org: str = "") -> None:
    # The API asked for the range the page shows: its last day is the browser's today, which a run crossing
    # midnight (UTC) sees move. The workload's days lie well inside each range either way.
    start, end = driver.find_element("tag name", "body").get_attribute("data-range").split("/")
    assert (date.fromisoformat(end) - date.fromisoformat(start)).days == days - 1
    expected = _normalise(_expected(collector, start, end, org))
    shown = _normalise(_shown(driver))
    assert shown == expected
    if not org:
        totals = EXPECTED_TOTALS[days]
        assert shown["total-accepted-lines"] == totals["accepted_lines"]
        assert shown["total-sessions"] == totals["sessions"]
        assert shown["total-spend"] == totals["spend_usd"]
        assert shown["total-active-users"] == totals["active_users"]


def _screenshots(driver: Any, folder: Path, label: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for section in SECTIONS:
        path = folder / f"{label}-{section}.png"
        element = driver.find_element("id", section)
        # Chromium captures only what is in the viewport: bring the whole section into it first.
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", element)
        assert element.screenshot(str(path)), path
        assert path.stat().st_size > 1000


def _choose(driver: Any, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    previous = driver.find_element("tag name", "body").get_attribute("data-range")
    Select(driver.find_element("id", select_id)).select_by_value(value)
    return previous


def test_console_page_shows_the_api_figures(
    browser: Any, console_collector: CollectorProcess, output_dir: Path
) -> None:
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(f"{console_collector.api_url}/login?token={CONSOLE_TOKEN}")
    # The link asks before it signs in, and its token has already left the address bar.
    WebDriverWait(browser, 10).until(lambda d: d.current_url == f"{console_collector.api_url}/login")
    browser.find_element("id", "confirm-login").click()
    WebDriverWait(browser, 30).until(lambda d: d.current_url == f"{console_collector.api_url}/")
    _wait_ready(browser)
    WebDriverWait(browser, 10).until(lambda d: d.find_element("id", "who").text == "test-admin · Admin")
    _check(browser, console_collector, 30)
    _screenshots(browser, output_dir, "30-days")

    for days in (7, 90):
        previous = _choose(browser, "range", str(days))
        _wait_ready(browser, previous)
        _check(browser, console_collector, days)
    _screenshots(browser, output_dir, "90-days")

    # The organization filter offers what the range holds and narrows every section.
    WebDriverWait(browser, 10).until(lambda d: len(Select(d.find_element("id", "org")).options) == 3)
    body = browser.find_element("tag name", "body")
    Select(browser.find_element("id", "org")).select_by_value(EMAIL_ORG)
    WebDriverWait(browser, 30).until(
        lambda d: _figure(d, "total-active-users") == "2" and body.get_attribute("data-state") == "ready"
    )
    _check(browser, console_collector, 90, EMAIL_ORG)
    Select(browser.find_element("id", "org")).select_by_value("")

    # A custom range: only D1's day.
    Select(browser.find_element("id", "range")).select_by_value("custom")
    day = str(TODAY - timedelta(days=2))
    for element_id in ("start", "end"):
        browser.execute_script("document.getElementById(arguments[0]).value = arguments[1]", element_id, day)
    browser.find_element("id", "apply").click()
    WebDriverWait(browser, 30).until(
        lambda d: body.get_attribute("data-range") == f"{day}/{day}" and body.get_attribute("data-state") == "ready"
    )
    assert _figure(browser, "total-accepted-lines") == "36"
    assert (
        browser.find_element("id", "csv-analytics")
        .get_attribute("href")
        .endswith(f"/api/v1/analytics.csv?start={day}&end={day}")
    )

    # Team insights sort by any column.
    browser.find_element("css selector", '#team-table th[data-key="member"]').click()
    members = [
        row.get_attribute("data-member") for row in browser.find_elements("css selector", "#team-table tbody tr")
    ]
    assert members == sorted(members)

    severe = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert severe == []


def test_page_without_a_session_shows_the_login_form(browser: Any, console_collector: CollectorProcess) -> None:
    browser.delete_all_cookies()
    browser.get(f"{console_collector.api_url}/")
    assert browser.find_element("css selector", "input[name=token]")
