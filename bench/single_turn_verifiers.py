"""Verifications per second of the single-turn verifiers (`mcqa`, `instruction_following`,
`structured_outputs`, `reasoning_gym`) on their bundled tasks' reference and wrong answers.

    .venv/bin/python -m bench.single_turn_verifiers [--repeats 3] [--env NAME ...]

Two figures per environment, each the median over repeats, after a warm pass over the same
answers (langdetect's profiles loaded, each schema's validator built, reasoning-gym imported):
- `in process`: the grading function itself, one thread, no pool, no HTTP (what one core
  verifies);
- `server, 1 worker`: the environment's `verify` as the resources server runs it, with one
  CPU worker and one verification in flight at a time (adds the hop to the worker).
`bench.throughput --env NAME` measures whole rollouts over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson

from environments.instruction_following.grading import grade as grade_instructions
from environments.instruction_following.server import InstructionFollowingServer
from environments.mcqa.letters import read_answer
from environments.mcqa.server import McqaServer
from environments.reasoning_gym.scoring import grade as grade_reasoning
from environments.reasoning_gym.server import ReasoningGymServer
from environments.structured_outputs.grading import Answer
from environments.structured_outputs.grading import grade as grade_output
from environments.structured_outputs.server import StructuredOutputsServer
from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.hub.solutions import AnswerCallStep, load_solutions, steps_of
from gym_core.protocol import FunctionCall, Message, ToolCall
from gym_core.settings import DEFAULT_VERIFY_CPU_LIMIT_S
from gym_core.tasks_file import load_tasks
from resources_server import NoSettings, ResourcesServer, TaskFields, Trajectory
from resources_server.cpu_pool import CpuPool

SERVERS: dict[str, type[ResourcesServer[Any, Any]]] = {
    "mcqa": McqaServer,
    "instruction_following": InstructionFollowingServer,
    "structured_outputs": StructuredOutputsServer,
    "reasoning_gym": ReasoningGymServer,
}


def answers(env: str) -> list[tuple[TaskFields, Trajectory]]:
    """Each bundled task with its reference answer, and with its wrong one."""
    entry = load_config(default_catalog_path()).envs[env]
    solutions = load_solutions(entry.solutions_path())  # type: ignore[arg-type]
    made = []
    for task in load_tasks(entry.example_path(), env=env):
        fields = SERVERS[env].task_model.model_validate(task.model_dump())
        for attempt in (solutions[task.id].reference, solutions[task.id].wrong):
            messages = [*task.messages(), _message(steps_of(attempt))]
            made.append((fields, Trajectory(messages=messages)))
    return made


def _message(steps: list[Any]) -> Message:
    calls = [
        ToolCall(id=f"c{i}", function=FunctionCall(name=step.answer_call, arguments=_text(step)))
        for i, step in enumerate(steps)
        if isinstance(step, AnswerCallStep)
    ]
    if calls:
        return Message(role="assistant", tool_calls=calls)
    return Message(role="assistant", content=steps[-1].say)


def _text(step: AnswerCallStep) -> str:
    arguments = step.arguments
    return arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()


def in_process(env: str) -> Callable[[TaskFields, Trajectory], object]:
    """The environment's grading function, called as its `verify` calls it."""
    if env == "mcqa":
        return lambda t, tr: read_answer(
            tr.final_text,
            t.grading_mode,  # type: ignore[attr-defined]
            t.choices,  # type: ignore[attr-defined]
        )
    if env == "instruction_following":
        return lambda t, tr: grade_instructions(tr.final_text, t.instructions())  # type: ignore[attr-defined]
    if env == "reasoning_gym":
        return lambda t, tr: grade_reasoning(tr.final_text, t.family, t.config, t.entry)  # type: ignore[attr-defined]

    def structured(task: Any, trajectory: Trajectory) -> object:
        last = trajectory.messages[-1]
        calls = [(c.function.name, c.function.arguments) for c in last.tool_calls or []]
        answer = Answer(text=last.content or "", calls=calls)
        return grade_output(
            answer,
            task.schema_str,
            task.schema_type,
            task.response_mode,
            task.tool_name,
            task.tool_payload_key,
        )

    return structured


def time_in_process(env: str, items: list[tuple[TaskFields, Trajectory]]) -> float:
    check = in_process(env)
    for task, trajectory in items:  # a warm pass: langdetect's profiles, the validators
        check(task, trajectory)
    started = time.perf_counter()
    for task, trajectory in items:
        check(task, trajectory)
    return len(items) / (time.perf_counter() - started)


async def time_server(env: str, items: list[tuple[TaskFields, Trajectory]]) -> float:
    server_class = SERVERS[env]
    pool = CpuPool(1, cpu_limit_s=DEFAULT_VERIFY_CPU_LIMIT_S, preload=server_class.cpu_preload)
    server = server_class(NoSettings(), pool)
    try:
        for task, trajectory in items:  # a warm pass, as in process
            await server.verify(task, trajectory, None)
        started = time.perf_counter()
        for task, trajectory in items:
            await server.verify(task, trajectory, None)
        return len(items) / (time.perf_counter() - started)
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--env", choices=sorted(SERVERS), action="append", help="default: all")
    args = parser.parse_args()
    print(
        f"{'environment':<24}{'verifications':>14}{'in process /s':>16}{'server, 1 worker /s':>22}"
    )
    for env in args.env or SERVERS:
        items = answers(env)
        local = [time_in_process(env, items) for _ in range(args.repeats)]
        served = [asyncio.run(time_server(env, items)) for _ in range(args.repeats)]
        print(
            f"{env:<24}{len(items):>14}{statistics.median(local):>16,.0f}"
            f"{statistics.median(served):>22,.0f}"
        )


if __name__ == "__main__":
    main()
