"""The calendar README's examples are true: its row is a bundled row, its game plays."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson

from environments.calendar.task import CalendarTask
from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from resources_server import NoSettings, Trajectory
from resources_server.cpu_pool import CpuPool

README = Path(__file__).resolve().parents[3] / "environments" / "calendar" / "README.md"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_example_row_is_a_bundled_row_with_its_rules_shortened() -> None:
    [block] = code_blocks("json")
    example = orjson.loads(block)
    CalendarTask.model_validate(example)
    bundled = load_config(default_catalog_path()).envs["calendar"].example_path()
    rows = {row["id"]: row for row in map(orjson.loads, bundled.read_bytes().splitlines())}
    row = rows[example["id"]]
    assert row["prompt"][0]["content"].startswith(example["prompt"][0]["content"].rstrip(". "))
    example["prompt"][0]["content"] = row["prompt"][0]["content"]
    assert example == row


async def test_the_text_game_example_plays_to_the_end() -> None:
    [block] = code_blocks("python")
    namespace: dict[str, Any] = {}
    exec(compile(block, str(README), "exec"), namespace)
    server = namespace["GuessServer"](NoSettings(), CpuPool(1, cpu_limit_s=1.0))
    assert server.interactive()
    task = namespace["GuessTask"](id="g", secret=7)
    state = await server.seed(task)
    said = []
    for answer in ["I guess 3", "hmm", "9", "7"]:
        messages = [{"role": "user", "content": "Guess"}, {"role": "assistant", "content": answer}]
        said.append(
            await server.respond(task, state, Trajectory.model_validate({"messages": messages}))
        )
    assert said == ["Higher.", "Please answer with a number.", "Lower.", None]
    verdict = await server.verify(task, Trajectory(messages=[]), state)
    assert verdict.reward == 1.0
    assert verdict.metrics == {"guesses": 4}
