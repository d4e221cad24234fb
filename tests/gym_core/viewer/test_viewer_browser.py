"""`gym view` in a real browser: Debian's headless Chromium driven by Selenium (installed by
`.ci/browser_env`). The table loads, a filter narrows it, a rollout opens with its tool calls
and a token view of masked and unmasked tokens, the groups and charts draw, and a row appended
to the file shows up without a reload."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.serving import gym_view
from tests.gym_core.viewer.conftest import (
    SCRIPTED_ROLLOUTS,
    built_result,
    built_results,
    indexed,
    rollout_line,
    state_when,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT_S = 60
TOTAL = SCRIPTED_ROLLOUTS + len(built_results())

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian's chromium and chromium-driver (bash .ci/browser_env)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    # Selenium Manager must never look for a driver or browser on the network.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SE_OFFLINE", "true")
        patch.setenv("SE_AVOID_STATS", "true")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
        ):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def live_file(results_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    live = tmp_path_factory.mktemp("browser") / "live.jsonl"
    shutil.copy(results_file, live)
    return live


@pytest.fixture(scope="module")
def page(live_file: Path) -> Iterator[str]:
    with gym_view(str(live_file)) as url:
        state_when(url, indexed)
        yield url


def wait_for(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(condition)


def table_tasks(driver: Any) -> list[str]:
    """The task column, read in one go (the page redraws the table as it polls)."""
    tasks: list[str] = driver.execute_script(
        "return [...document.querySelectorAll('#rollouts tbody tr')]"
        ".map((row) => row.cells[0].textContent)"
    )
    return tasks


def load(driver: Any, page: str, view: str) -> None:
    """`view` freshly loaded (a change of the URL's fragment alone would keep the filters)."""
    driver.get("about:blank")
    driver.get(f"{page}/#view={view}")


def open_table(driver: Any, page: str) -> None:
    load(driver, page, "table")
    wait_for(driver, lambda d: len(table_tasks(d)) == TOTAL)


def test_the_table_loads_and_a_filter_narrows_it(browser: Any, page: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_table(browser, page)
    count = browser.find_element(By.CSS_SELECTOR, "#table-pager .count").text
    assert count.endswith(f" of {TOTAL} rollouts")
    Select(browser.find_element(By.NAME, "status")).select_by_visible_text("failed")
    wait_for(browser, lambda d: table_tasks(d) == ["timeout"])
    browser.find_element(By.CSS_SELECTOR, "#filters button[type=reset]").click()
    wait_for(browser, lambda d: len(table_tasks(d)) == TOTAL)
    search = browser.find_element(By.NAME, "q")
    search.send_keys("what is 2+2")
    wait_for(browser, lambda d: table_tasks(d) == ["four", "four"])
    search.clear()
    browser.find_element(By.CSS_SELECTOR, "#filters button[type=reset]").click()


def test_a_rollout_opens_with_its_conversation_and_token_view(browser: Any, page: str) -> None:
    from selenium.webdriver.common.by import By

    open_table(browser, page)
    browser.find_element(By.CSS_SELECTOR, "#filters [name=group]").send_keys("split")
    wait_for(browser, lambda d: table_tasks(d) == ["split"] * 4)
    browser.find_element(By.CSS_SELECTOR, "#rollouts tbody tr").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tokens .tok"))
    generated = browser.find_elements(By.CSS_SELECTOR, "#tokens .tok.gen")
    context = browser.find_elements(By.CSS_SELECTOR, "#tokens .tok.ctx")
    assert (len(generated), len(context)) == (3, 5)
    assert generated[0].get_attribute("title") == "id 10 · logprob -0.0500 (p=0.951)"
    assert context[0].get_attribute("title") == "id 1 · mask 0"
    assert "add_event" in browser.find_element(By.CSS_SELECTOR, ".tool-call").text
    assert "booked: monday" in browser.find_element(By.CSS_SELECTOR, ".bubble.tool").text
    assert "component format" in browser.find_element(By.ID, "detail-facts").text
    browser.find_element(By.ID, "heatmap").click()
    wait_for(
        browser,
        lambda d: (
            "background"
            in (d.find_element(By.CSS_SELECTOR, "#tokens .tok.gen").get_attribute("style") or "")
        ),
    )


def test_the_turn_where_the_prefix_broke_is_marked(browser: Any, page: str) -> None:
    from selenium.webdriver.common.by import By

    open_table(browser, page)
    browser.find_element(By.CSS_SELECTOR, "#filters [name=group]").send_keys("broken")
    wait_for(browser, lambda d: table_tasks(d) == ["broken"])
    browser.find_element(By.CSS_SELECTOR, "#rollouts tbody tr").click()
    mark = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tokens .break-mark"))
    assert "prefix broke at turn 1" in mark[0].text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#tokens .tok.broken")) == 2


def test_groups_and_charts_draw(browser: Any, page: str) -> None:
    from selenium.webdriver.common.by import By

    load(browser, page, "groups")
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#groups .group")) == 5)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".group.signal")) == 1
    assert len(browser.find_elements(By.CSS_SELECTOR, ".group.no-signal")) == 4
    browser.find_element(By.CSS_SELECTOR, ".tab[data-view=summary]").click()
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#charts svg")) == 6)
    titles = [title.text for title in browser.find_elements(By.CSS_SELECTOR, "#charts h3")]
    assert titles[1] == "pass@k by environment"


def test_a_row_appended_to_the_file_shows_up(browser: Any, page: str, live_file: Path) -> None:
    open_table(browser, page)
    with live_file.open("ab") as sink:
        sink.write(rollout_line(built_result("appended", group_id="appended")))
    wait_for(browser, lambda d: "appended" in table_tasks(d))
    assert len(table_tasks(browser)) == TOTAL + 1
