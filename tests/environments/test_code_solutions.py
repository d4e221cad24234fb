"""The reference solutions of the bundled problems: the committed files are exactly what
`python -m environments.code.make_solutions` writes, and the trial runs of `code_tools`
really run the answer on the first test."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from environments.code.cases import CallCase, CodeTask
from environments.code.grading import extract_code, outputs_match, values_match
from environments.code.make_solutions import (
    PROBLEMS,
    SOLUTIONS,
    TOOLS_SOLUTIONS,
    solutions,
)
from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.hub.solutions import SayStep, ToolStep, load_solutions, solutions_jsonl, steps_of
from gym_core.tasks_file import load_tasks
from resources_server.sandbox import Sandbox


@pytest.mark.parametrize(
    ("env", "path", "tools"), [("code", SOLUTIONS, False), ("code_tools", TOOLS_SOLUTIONS, True)]
)
def test_the_committed_solutions_are_what_the_script_makes(
    env: str, path: Path, tools: bool
) -> None:
    assert load_config(default_catalog_path()).envs[env].solutions_path() == path
    assert path.read_bytes() == solutions_jsonl(solutions(tools=tools))


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
