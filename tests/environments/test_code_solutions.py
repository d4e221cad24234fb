"""The reference solutions and cheat probes of the bundled problems: the committed files are
exactly what `python -m environments.code.make_solutions` writes, the trial runs of
`code_tools` really run the answer on the first test, and the snoop finds an answer left
within its reach (so that its earning 0 means the tests are out of reach, not that it is
blind)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from environments.code.cases import CallCase, CodeTask
from environments.code.grading import (
    HARNESS_FILE,
    HARNESS_SOURCE,
    extract_code,
    outputs_match,
    values_match,
)
from environments.code.make_solutions import (
    CHEATS,
    PROBLEMS,
    SOLUTIONS,
    TOOLS_CHEATS,
    TOOLS_SOLUTIONS,
    cheats,
    solutions,
)
from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.hub.solutions import (
    SayStep,
    ToolStep,
    cheats_jsonl,
    load_cheats,
    load_solutions,
    solutions_jsonl,
    steps_of,
)
from gym_core.tasks_file import load_tasks
from resources_server.sandbox import PROGRAM_FILE, Sandbox


@pytest.mark.parametrize(
    ("env", "path", "tools"), [("code", SOLUTIONS, False), ("code_tools", TOOLS_SOLUTIONS, True)]
)
def test_the_committed_solutions_are_what_the_script_makes(
    env: str, path: Path, tools: bool
) -> None:
    assert load_config(default_catalog_path()).envs[env].solutions_path() == path
    assert path.read_bytes() == solutions_jsonl(solutions(tools=tools))


@pytest.mark.parametrize(
    ("env", "path", "tools"), [("code", CHEATS, False), ("code_tools", TOOLS_CHEATS, True)]
)
def test_the_committed_cheats_are_what_the_script_makes(env: str, path: Path, tools: bool) -> None:
    assert load_config(default_catalog_path()).envs[env].cheats_path() == path
    assert path.read_bytes() == cheats_jsonl(cheats(tools=tools))


def snoop(path: Path, task_id: str) -> str:
    """The program of the bundled snoop cheat of one problem."""
    [found] = [c for c in load_cheats(path) if c.id == task_id and c.cheat == "snoop"]
    assert isinstance(found.attempt, str)
    return extract_code(found.attempt) or ""


async def test_the_snoop_finds_a_stdin_test_left_in_its_working_directory(
    sandbox: Sandbox,
) -> None:
    leaked = {"tests.jsonl": '{"stdin": "abc\\n", "stdout": "cba\\n"}\n'}
    program = snoop(CHEATS, "code-001-reverse-line")
    found = await sandbox.run(program=program, stdin="abc\n", files=leaked)
    assert (found.exit_code, found.stdout) == (0, "cba\n"), found.stderr
    blind = await sandbox.run(program=program, stdin="abc\n")
    assert (blind.exit_code, blind.stdout) == (0, ""), blind.stderr


async def test_the_snoop_finds_a_call_test_in_the_environment_of_the_harness(
    sandbox: Sandbox,
) -> None:
    task_id = next(c.id for c in load_cheats(CHEATS) if c.cheat == "equals_anything")
    problem = next(t for t in load_tasks(PROBLEMS, env="code") if t.id == task_id)
    fn_name = problem.env_fields()["fn_name"]
    leaked = json.dumps([{"args": ["leak", 1], "expected": {"found": True}}])
    found = await sandbox.run(
        ["sh", "-c", f"LEAK='{leaked}' exec {sandbox.python} {HARNESS_FILE} {fn_name}"],
        files={PROGRAM_FILE: snoop(CHEATS, task_id), HARNESS_FILE: HARNESS_SOURCE},
        stdin=json.dumps(["leak", 1]),
    )
    assert found.stdout.splitlines()[-1] == '{"returned": {"found": true}}', found.stderr


@pytest.mark.slow
async def test_each_trial_run_prints_the_first_tests_answer(sandbox: Sandbox) -> None:
    bundled = load_solutions(TOOLS_SOLUTIONS)

    async def trial(problem: CodeTask) -> str | None:
        [run, answer] = steps_of(bundled[problem.id].reference)
        assert isinstance(run, ToolStep)
        assert run.call == "run_python"
        assert isinstance(answer, SayStep)
        assert (extract_code(answer.say) or "-").strip() in str(run.arguments["code"])
        result = await sandbox.run(
            program=str(run.arguments["code"]), stdin=str(run.arguments["stdin"])
        )
        case = problem.tests[0]
        if isinstance(case, CallCase):
            right = result.exit_code == 0 and values_match(
                case.expected, json.loads(result.stdout), problem.float_tolerance
            )
        else:
            right = result.exit_code == 0 and outputs_match(
                case.stdout, result.stdout, problem.float_tolerance
            )
        return None if right else f"{problem.id}: {result.stdout!r} {result.stderr!r}"

    problems = [
        CodeTask.model_validate(task.model_dump()) for task in load_tasks(PROBLEMS, env="code")
    ]
    assert [failure for failure in await asyncio.gather(*map(trial, problems)) if failure] == []
