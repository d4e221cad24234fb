"""The code environment as a service: over HTTP, and end to end with the agent and a scripted
model. Hostile solutions never disturb the server or other rollouts; a broken sandbox fails
the rollout instead of scoring it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from gym_core.errors import ConfigError, ServiceFailed
from gym_core.http_client import HttpClient
from gym_core.protocol import RolloutResult
from gym_core.rollout_client import AsyncRolloutClient
from gym_core.settings import ResourcesServerSettings
from resources_server.app import create_app
from tests.conftest import gym_stack, resources_server, scripted_engine
from tests.gym_core.test_protocol import peer_rows

LIMITS = {"cpu_time_s": 1, "wall_time_s": 5, "memory_mb": 256, "output_bytes": 100_000}
ADD_TASK = {
    "id": "add",
    "env": "code",
    "prompt": "Read two integers and print their sum.",
    "tests": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "-4 4\n", "stdout": "0\n"}],
}
GOOD = "a, b = map(int, input().split())\nprint(a + b)\n"


def answer(code: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": ADD_TASK["prompt"]},
        {"role": "assistant", "content": f"Here it is:\n```python\n{code}```"},
    ]


def code_server(server: str) -> contextlib.AbstractContextManager[str]:
    """A resources server of the code environment (class `server`); yields its URL."""
    return resources_server(
        ResourcesServerSettings(
            name="code", server=server, cpu_workers=1, env_settings={"sandbox": {"limits": LIMITS}}
        )
    )


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with code_server("environments.code.server:CodeToolsServer") as url:
        yield url


async def verify(http: HttpClient, url: str, code: str) -> dict[str, Any]:
    session = (await http.post(f"{url}/sessions", {"task": ADD_TASK}))["session_id"]
    return await http.post(f"{url}/sessions/{session}/verify", {"messages": answer(code)})


async def test_a_correct_solution_scores_1_with_per_test_metrics(url: str) -> None:
    async with HttpClient() as http:
        verdict = await verify(http, url, GOOD)
        wrong = await verify(http, url, "print(3)\n")
        session = (await http.post(f"{url}/sessions", {"task": ADD_TASK}))["session_id"]
        none = await http.post(
            f"{url}/sessions/{session}/verify",
            {"messages": [{"role": "assistant", "content": "no code, sorry"}]},
        )
    assert verdict["reward"] == 1.0
    assert verdict["metrics"]["tests_passed"] == 2
    assert verdict["metrics"]["tests_total"] == 2
    assert wrong["reward"] == 0.0
    assert [test["status"] for test in wrong["metrics"]["tests"]] == ["passed", "wrong_answer"]
    assert none["reward"] == 0.0
    assert none["metrics"]["code_found"] is False


async def test_run_python_shows_the_model_how_its_program_ended(url: str) -> None:
    async with HttpClient() as http:
        session = (await http.post(f"{url}/sessions", {"task": ADD_TASK}))["session_id"]
        tool = f"{url}/sessions/{session}/tools/run_python"
        ran = await http.post(tool, {"code": GOOD, "stdin": "2 3\n"})
        crashed = await http.post(tool, {"code": "1 / 0"})
        spun = await http.post(tool, {"code": "while True:\n    pass"})
    assert ran == {"output": "exit code 0\n--- stdout ---\n5\n", "is_error": False}
    assert crashed["output"].startswith("exit code 1\n--- stderr ---\nTraceback")
    assert crashed["output"].endswith("ZeroDivisionError: division by zero\n")
    assert spun["output"] == "stopped: it ran out of time"


HOSTILE = {
    "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
    "        pass\n",
    "memory bomb": "x = []\nwhile True:\n    x.append(bytearray(10**8))\n",
    "infinite loop": "while True:\n    pass\n",
    "flood": "while True:\n    print('x' * 10000)\n",
    "kill everyone": "import os\nfor pid in range(1, 5000):\n    try:\n        os.kill(pid, 9)\n"
    "    except OSError:\n        pass\n",
}
HOSTILE_STATUS = {
    "fork bomb": "timeout",
    "memory bomb": "out_of_memory",
    "infinite loop": "timeout",
    "flood": "output_limit",
    "kill everyone": "wrong_answer",
}


@pytest.mark.slow
async def test_hostile_solutions_never_disturb_the_server_or_other_rollouts(url: str) -> None:
    async with HttpClient(timeout_s=5, max_retries=0) as http:
        done = asyncio.Event()
        health: list[str] = []

        async def watch_health() -> None:
            while not done.is_set():
                health.append((await http.get(f"{url}/healthz"))["status"])
                await asyncio.sleep(0.1)

        watcher = asyncio.create_task(watch_health())
        async with HttpClient(timeout_s=120) as slow:
            verdicts = await asyncio.gather(
                *(verify(slow, url, code) for code in HOSTILE.values()),
                *(verify(slow, url, GOOD) for _ in range(3)),
            )
        done.set()
        await watcher
    hostile, good = verdicts[: len(HOSTILE)], verdicts[len(HOSTILE) :]
    for name, verdict in zip(HOSTILE, hostile, strict=True):
        assert verdict["reward"] == 0.0, name
        assert verdict["metrics"]["tests"][0]["status"] == HOSTILE_STATUS[name], name
    assert [verdict["reward"] for verdict in good] == [1.0, 1.0, 1.0]
    assert len(health) > 3
    assert set(health) == {"ok"}


@pytest.fixture(scope="module")
def broken_url() -> Iterator[str]:
    with code_server("tests.fixtures.broken_sandbox_env:BrokenSandboxServer") as url:
        yield url


async def test_a_broken_sandbox_fails_the_rollout_instead_of_scoring_it(broken_url: str) -> None:
    async with HttpClient(max_retries=0) as http:
        verdict = await verify(http, broken_url, GOOD)
        session = (await http.post(f"{broken_url}/sessions", {"task": ADD_TASK}))["session_id"]
        with pytest.raises(ServiceFailed, match="tool run_python: the sandbox failed: bubblewrap"):
            await http.post(f"{broken_url}/sessions/{session}/tools/run_python", {"code": GOOD})
    assert verdict["reward"] is None
    assert verdict["failure"]["kind"] == "sandbox_error"
    assert "bubblewrap could not start the program" in verdict["failure"]["message"]
    assert "/no/such/path" in verdict["failure"]["message"]


# A solution of the fifth peer problem (which m are "beautiful" in a permutation), ours.
PEER_SOLUTION = """\
import sys

def main():
    data = sys.stdin.buffer.read().split()
    t, i, out = int(data[0]), 1, []
    for _ in range(t):
        n = int(data[i])
        position = [0] * (n + 1)
        for j in range(n):
            position[int(data[i + 1 + j])] = j
        i += n + 1
        low = high = position[1]
        answer = []
        for m in range(1, n + 1):
            low, high = min(low, position[m]), max(high, position[m])
            answer.append("1" if high - low + 1 == m else "0")
        out.append("".join(answer))
    print("\\n".join(out))

main()
"""

RULES: list[dict[str, Any]] = [
    {
        "role": "user",
        "match": "Try it first",
        "tool_calls": [{"name": "run_python", "arguments": {"code": GOOD, "stdin": "20 22"}}],
    },
    {"role": "user", "match": "print their sum", "reply": f"```python\n{GOOD}```"},
    {"role": "tool", "match": "42", "reply": f"It works:\n```python\n{GOOD}```"},
    {"match": "What is 2\\+2", "reply": "\\boxed{4}"},
    {"match": "beautiful", "reply": f"```python\n{PEER_SOLUTION}```"},
    {"reply": "```python\nprint(input())\n```"},
]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with (
        scripted_engine(RULES) as engine_url,
        gym_stack(["math", "code", "code_tools"], [engine_url]) as running,
    ):
        yield running.endpoint


async def rollouts(endpoint: str, rows: list[dict[str, Any]]) -> list[RolloutResult]:
    async with AsyncRolloutClient(endpoint) as client:
        return await client.rollouts(rows)


@pytest.mark.slow  # starts the whole stack: agent, policy, math, code, code_tools
async def test_math_and_code_serve_side_by_side(endpoint: str) -> None:
    math_row = {"id": "m", "env": "math", "prompt": "What is 2+2?", "answer": "4"}
    code, math = await rollouts(endpoint, [ADD_TASK, math_row])
    assert (code.status, code.reward, code.metrics["tests_passed"]) == ("completed", 1.0, 2)
    assert (math.status, math.reward) == ("completed", 1.0)


@pytest.mark.slow  # starts the whole stack: agent, policy, math, code, code_tools
async def test_the_tools_variant_lets_the_model_try_its_code(endpoint: str) -> None:
    row = {
        **ADD_TASK,
        "env": "code_tools",
        "prompt": "Read two integers and print their sum. Try it first.",
    }
    [result] = await rollouts(endpoint, [row])
    assert result.status == "completed"
    assert result.reward == 1.0
    assert [message.role for message in result.messages] == [
        "user",
        "assistant",
        "tool",
        "assistant",
    ]
    assert result.messages[2].content == "exit code 0\n--- stdout ---\n42\n"


@pytest.mark.slow
async def test_the_peer_rows_run_unchanged(endpoint: str) -> None:
    rows = [{**row, "env": "code"} for row in peer_rows("code_gen")]
    results = await rollouts(endpoint, rows)
    for row, result in zip(rows, results, strict=True):
        total = len(row["verifier_metadata"]["unit_tests"]["inputs"])
        assert result.status == "completed"
        assert result.metrics["tests_total"] == total
        assert len(result.metrics["tests"]) == total
        assert result.metrics["tests_passed"] == sum(
            test["status"] == "passed" for test in result.metrics["tests"]
        )
    solved = [result for result in results if result.reward == 1.0]
    assert len(solved) == 1
    assert solved[0].metrics["tests_passed"] == 3


@pytest.mark.parametrize(
    ("sandbox", "problem"),
    [
        ({"python": "/no/python"}, "settings.sandbox: no usable Python .*/no/python: no such file"),
        ({"backend": "nope"}, "envs.code.settings: sandbox.backend: Input should be .bubblewrap."),
        ({"limits": {"cpu_time_s": 0}}, "sandbox.limits.cpu_time_s: Input should be greater"),
    ],
)
def test_sandbox_settings_that_cannot_work_are_config_errors(
    sandbox: dict[str, Any], problem: str
) -> None:
    settings = ResourcesServerSettings(
        name="code", server="environments.code.server:CodeServer", env_settings={"sandbox": sandbox}
    )
    with pytest.raises(ConfigError, match=problem):
        create_app(settings.model_dump())
