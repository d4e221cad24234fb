"""The reasoning_gym environment: reading the `<answer>`, binarizing the package's scores,
the bundled tasks, and the service over loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from environments.reasoning_gym.generate import (
    DIFFICULTIES,
    FAMILIES,
    TASKS,
    family_tasks,
    generate_tasks,
    task_set,
)
from environments.reasoning_gym.scoring import package_score, read_answer
from gym_core.errors import ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.settings import ResourcesServerSettings
from gym_core.tasks_file import load_tasks
from tests.conftest import resources_server


@pytest.mark.parametrize(
    ("text", "answer", "check"),
    [
        ("so <answer> 42 </answer>", "42", "answered"),
        ("<ANSWER>yes</ANSWER>", "yes", "answered"),
        ("<answer>a\nb</answer>", "a\nb", "answered"),
        ("<answer>7</answer> checking... <answer>7</answer>", "7", "answered"),
        ("<answer>7</answer> or <answer>8</answer>", None, "several_answers"),
        ("<answer>  </answer>", None, "no_answer"),
        ("The answer is 42.", None, "no_answer"),
    ],
)
def test_the_answer_is_read_from_its_tags(text: str, answer: str | None, check: str) -> None:
    reading = read_answer(text)
    assert (reading.answer, reading.check) == (answer, check)


def test_the_bundled_tasks_are_what_the_generator_makes() -> None:
    tasks = load_tasks(TASKS, env="reasoning_gym")
    rows = task_set()
    assert [task.id for task in tasks] == [row["id"] for row in rows]
    # Whole rows: the file was written by another process (another string hash seed), so a
    # family whose generator depends on hashing would differ here.
    assert [orjson.loads(line) for line in TASKS.read_bytes().splitlines()] == rows
    assert len(FAMILIES) >= 20
    assert Counter(row["family"] for row in rows) == dict.fromkeys(FAMILIES, 12)
    assert Counter(row["difficulty"] for row in rows) == dict.fromkeys(DIFFICULTIES, 92)
    assert all(row["config"]["size"] == 4 and row["entry"]["answer"] for row in rows)
    # The curriculum's levels are recorded: a hard task is configured past an easy one.
    easy, hard = (family_tasks("basic_arithmetic", d, 1, 0)[0] for d in ("easy", "hard"))
    assert hard["config"]["max_terms"] > easy["config"]["max_terms"]
    assert generate_tasks(30, 3, "medium") == generate_tasks(30, 3, "medium")
    assert {row["family"] for row in generate_tasks(30, 3, "medium")} == set(FAMILIES)


def test_partial_credit_is_what_the_reward_binarizes() -> None:
    row = family_tasks("basic_arithmetic", "easy", 1, 0)[0]
    gold = row["entry"]["answer"]
    assert package_score("basic_arithmetic", row["config"], gold, row["entry"]) == 1.0
    padded = package_score("basic_arithmetic", row["config"], f"{gold} or 0", row["entry"])
    assert 0.0 < padded < 1.0


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    settings = ResourcesServerSettings(
        name="reasoning_gym",
        server="environments.reasoning_gym.server:ReasoningGymServer",
        cpu_workers=1,
    )
    with resources_server(settings) as url:
        yield url


@pytest.fixture(scope="module")
def task() -> dict[str, Any]:
    return family_tasks("basic_arithmetic", "easy", 1, 0)[0]


async def verify(url: str, task: dict[str, Any], answer: str) -> dict[str, Any]:
    async with HttpClient() as http:
        session = (await http.post(f"{url}/sessions", {"task": task}))["session_id"]
        messages = [{"role": "assistant", "content": answer}]
        return await http.post(f"{url}/sessions/{session}/verify", {"messages": messages})


async def test_the_service_pays_only_the_full_score(url: str, task: dict[str, Any]) -> None:
    gold = task["entry"]["answer"]
    right = await verify(url, task, f"Adding up.\n<answer>{gold}</answer>")
    padded = await verify(url, task, f"<answer>{gold} or 0</answer>")
    hedged = await verify(url, task, f"<answer>{gold}</answer> or <answer>0</answer>")
    assert right["reward"] == 1.0
    assert right["metrics"] == {
        "family": "basic_arithmetic",
        "answer_check": "answered",
        "package_score": 1.0,
    }
    assert padded["reward"] == 0.0
    assert 0.0 < padded["metrics"]["package_score"] < 1.0
    assert hedged["reward"] == 0.0
    assert hedged["metrics"]["answer_check"] == "several_answers"


async def test_countdown_pays_any_right_expression_and_evaluates_only_arithmetic(
    url: str,
) -> None:
    task = family_tasks("countdown", "easy", 1, 0)[0]
    gold = task["entry"]["answer"]
    regrouped = await verify(url, task, f"<answer>({gold})</answer>")
    python = await verify(url, task, "<answer>__import__('os').getpid()</answer>")
    power = await verify(url, task, "<answer>9 * * 9 ** 9</answer>")
    assert regrouped["reward"] == 1.0
    assert python["metrics"]["answer_check"] == power["metrics"]["answer_check"] == "not_arithmetic"
    assert python["reward"] == power["reward"] == 0.0


async def test_a_score_past_one_is_not_the_full_score(url: str) -> None:
    # spell_backward credits each letter 1/9: nine of them sum past 1.0, after its check for
    # exactly 1.0 that takes 0.2 off a padded answer.
    entry = {"question": "Spell 'gnirtsbus' backward", "answer": "substring", "metadata": {}}
    task = {"id": "s", "env": "reasoning_gym", "prompt": "x", "family": "spell_backward"}
    padded = await verify(url, {**task, "entry": entry}, "<answer>substrings</answer>")
    assert padded["metrics"]["package_score"] > 1.0
    assert padded["reward"] == 0.0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"family": "fraction_simplification"}, "is not one of the curated families"),
        ({"family": "no_such_family"}, "is not one of the curated families"),
        ({"entry": {"question": "1 + 1"}}, "entry needs the package's 'answer' key"),
        ({"config": {"no_such_knob": 3}}, "config does not fit family 'basic_arithmetic'"),
    ],
)
async def test_a_bad_row_is_refused_naming_the_field(
    url: str, task: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    with pytest.raises(ServiceRejected, match=re.escape(field)):
        await verify(url, {**task, **change}, "<answer>1</answer>")


def test_without_the_package_the_server_names_the_extra_to_install() -> None:
    """reasoning-gym is an extra (it compiles C on install): `gym serve reasoning_gym`
    without it is one line naming the extra, not an import traceback."""
    hidden = "import sys; sys.modules['reasoning_gym'] = None; "
    load = "import environments.reasoning_gym.server"
    finished = subprocess.run(
        [sys.executable, "-c", hidden + load], capture_output=True, text=True, check=False
    )
    assert finished.returncode != 0
    assert "ConfigError" in finished.stderr
    assert "pip install 'rl-gym[reasoning-gym]'" in finished.stderr
