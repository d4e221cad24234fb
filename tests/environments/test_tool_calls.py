"""The tool_calls environment: its tools and verifier against a real resources server, NeMo
Gym's two tool-call example datasets through `gym rollout` unchanged, and the bundled data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from environments.tool_calls.generate import generate_tasks
from environments.tool_calls.make_solutions import CHEATS, SOLUTIONS, TASKS, cheats, solutions
from environments.tool_calls.server import weather_of
from gym_core.cli import main
from gym_core.collect import read_results
from gym_core.http_client import HttpClient
from gym_core.hub.solutions import cheats_jsonl, solutions_jsonl
from gym_core.settings import ResourcesServerSettings
from tests.conftest import resources_server, scripted_engine
from tests.fixtures.sessions import call, open_session, verify

PEER_ROWS = Path(__file__).parent / "peer_rows" / "tool_calls"
WEATHER_ROWS = PEER_ROWS / "example_single_tool_call.jsonl"
COUNTER_ROWS = PEER_ROWS / "example_session_state_mgmt.jsonl"


def rows(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = ResourcesServerSettings(
        name="tool_calls", server="environments.tool_calls.server:ToolCallsServer", cpu_workers=1
    )
    with resources_server(settings) as url:
        yield url


async def test_each_session_keeps_its_own_counter(url: str) -> None:
    [first, second] = rows(COUNTER_ROWS)[:2]  # start at 3 and at 6
    async with HttpClient(timeout_s=10) as http:
        a = await open_session(http, url, first, "tool_calls")
        b = await open_session(http, url, second, "tool_calls")
        await call(http, url, a, "increment_counter", count=1)
        await call(http, url, b, "increment_counter", count=4)
        await call(http, url, a, "increment_counter", count=2)
        assert (await call(http, url, a, "get_counter_value"))["output"] == '{"count":6}'
        assert (await call(http, url, b, "get_counter_value"))["output"] == '{"count":10}'
        right, short = await verify(http, url, a), await verify(http, url, b)
    assert right["reward"] == 1.0
    assert right["metrics"]["counter"] == 6
    assert right["metrics"]["tool_calls_made"] == {"increment_counter": 2, "get_counter_value": 1}
    assert short["reward"] == 0.0  # 6 + 4 is not the 15 asked for


async def test_saying_the_count_without_counting_earns_nothing(url: str) -> None:
    row = rows(COUNTER_ROWS)[0]
    async with HttpClient(timeout_s=10) as http:
        session = await open_session(http, url, row, "tool_calls")
        verdict = await verify(http, url, session, final=f"The count is {row['expected_count']}.")
    assert verdict["reward"] == 0.0


async def test_a_weather_lookup_is_what_the_peer_rows_reward(url: str) -> None:
    row = rows(WEATHER_ROWS)[0]
    async with HttpClient(timeout_s=10) as http:
        looked_up = await open_session(http, url, row, "tool_calls")
        output = await call(http, url, looked_up, "get_weather", city="San Francisco")
        refused = await open_session(http, url, row, "tool_calls")
        blank = await call(http, url, refused, "get_weather", city="  ")
        rewards = [(await verify(http, url, s))["reward"] for s in (looked_up, refused)]
    assert orjson.loads(output["output"]) == weather_of("san  francisco") | {
        "city": "San Francisco"
    }
    assert blank["is_error"] is True
    assert rewards == [1.0, 0.0]


async def test_a_task_naming_cities_needs_every_one_of_them(url: str) -> None:
    row = {"id": "two", "prompt": "Weather in Oslo and Lima?", "cities": ["Oslo", "Lima"]}
    async with HttpClient(timeout_s=10) as http:
        session = await open_session(http, url, row, "tool_calls")
        await call(http, url, session, "get_weather", city="oslo")
        verdict = await verify(http, url, session)
    assert verdict["reward"] == 0.0
    assert verdict["metrics"]["cities_missing"] == ["lima"]


async def test_bad_arguments_are_refused_naming_the_field(url: str) -> None:
    async with HttpClient(timeout_s=10) as http:
        session = await open_session(http, url, rows(COUNTER_ROWS)[0], "tool_calls")
        huge = await call(http, url, session, "increment_counter", count=10**12)
        with pytest.raises(Exception, match="count"):
            await call(http, url, session, "increment_counter", count="three")
        with pytest.raises(Exception, match="expected_count"):
            await open_session(
                http, url, {"id": "x", "prompt": "p", "expected_count": "six"}, "tool_calls"
            )
    assert huge["is_error"] is True


def counter_rules(row: dict[str, Any], *, skip_last: bool) -> dict[str, Any]:
    """Answer a peer counter row with its additions (all of them, or all but the last)."""
    ask = row["responses_create_params"]["input"][-1]["content"]
    steps = [int(n) for n in re.findall(r"add (\d+)", ask)]
    calls = [{"name": "increment_counter", "arguments": {"count": n}} for n in steps]
    calls = calls[:-1] if skip_last else calls
    calls.append({"name": "get_counter_value", "arguments": {}})
    return {"role": "user", "match": f"^{re.escape(ask)}$", "tool_calls": calls}


def test_the_peer_rows_run_unchanged_and_are_graded_as_the_peer_grades(tmp_path: Path) -> None:
    counter_rows = rows(COUNTER_ROWS)
    rules = [counter_rules(row, skip_last=i == 4) for i, row in enumerate(counter_rows)]
    rules += [
        {"role": "user", "match": "weather for 3", "reply": "Which cities?"},  # no call: 0
        {"role": "user", "tool_calls": [{"name": "get_weather", "arguments": {"city": "SF"}}]},
        {"role": "tool", "reply": "Here you go."},
    ]
    rewards = {}
    with scripted_engine(rules) as engine:
        for path in (WEATHER_ROWS, COUNTER_ROWS):
            out = tmp_path / f"{path.stem}.out.jsonl"
            argv = ["rollout", str(path), "--env", "tool_calls", "--out", str(out)]
            assert main([*argv, "--policy-url", engine]) == 0
            results = read_results(out)
            assert all(r.status == "completed" for r in results)
            rewards[path.stem] = sorted(r.reward for r in results)
    assert rewards == {
        "example_single_tool_call": [0.0, 1.0, 1.0, 1.0, 1.0],
        "example_session_state_mgmt": [0.0, 1.0, 1.0, 1.0, 1.0],
    }


def test_the_bundled_tasks_are_what_the_generator_makes() -> None:
    made = [
        orjson.dumps({**row, "env": "tool_calls"})
        for difficulty in ("easy", "medium", "hard")
        for row in generate_tasks(20, 0, difficulty)
    ]
    assert TASKS.read_bytes().splitlines() == made
    assert generate_tasks(3, 1, "hard") == generate_tasks(5, 1, "hard")[:3]


def test_the_committed_solutions_and_cheats_are_what_the_script_makes() -> None:
    assert SOLUTIONS.read_bytes() == solutions_jsonl(solutions())
    assert CHEATS.read_bytes() == cheats_jsonl(cheats())
