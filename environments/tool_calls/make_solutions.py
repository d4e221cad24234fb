"""The reference solutions and cheat probes `gym hub validate tool_calls` plays:

    python -m environments.tool_calls.make_solutions

rewrites `data/solutions.jsonl` and `data/cheats.jsonl` from `data/tasks.jsonl`. The reference
makes the calls the task asks for, then answers; the wrong solution is one call short (the
last city never looked up, or a different city when there is one; the last step of the
counter left out) and still answers as if it were done. The cheat probes, which must earn 0:

    weather  answer_without_tools    a plausible weather report, no tool called
             tool_call_in_text       the call written out in the answer instead of made
             empty_city              `get_weather` with an empty city (refused), then an answer
             other_tool_only         `get_counter_value` instead of the weather
    counter  says_expected_count     the right count in words, no tool called
             reads_only              reads the counter and reports the right count
             adds_the_answer         adds the expected count itself (when the start is not 0)
             every_step_twice        each addition made twice
"""

from __future__ import annotations

from environments.tool_calls.generate import CITIES
from environments.tool_calls.server import ToolCallsTask
from gym_core.hub.solutions import (
    Cheat,
    SayStep,
    Solution,
    Step,
    ToolStep,
    data_files,
)
from gym_core.tasks_file import load_tasks

__all__ = ["CHEATS", "SOLUTIONS", "TASKS", "cheats", "solutions"]

TASKS, SOLUTIONS, CHEATS = data_files(__file__)
DONE = SayStep(say="Done: I made the calls you asked for.")


def bundled() -> list[tuple[ToolCallsTask, list[int]]]:
    """The bundled tasks, each with the additions it asks for (the rows' `steps`)."""
    return [
        (ToolCallsTask.model_validate(task.model_dump()), task.env_fields().get("steps", []))
        for task in load_tasks(TASKS, env="tool_calls")
    ]


def solutions() -> list[Solution]:
    made = []
    for task, steps in bundled():
        if task.expected_count is None:
            cities = task.cities
            wrong = cities[:-1] if len(cities) > 1 else [_elsewhere(cities)]
            made.append(Solution(id=task.id, reference=_lookups(cities), wrong=_lookups(wrong)))
        else:
            made.append(
                Solution(
                    id=task.id, reference=_counting(task, steps), wrong=_counting(task, steps[:-1])
                )
            )
    return made


def cheats() -> list[Cheat]:
    made = []
    for task, steps in bundled():
        attempts: dict[str, list[Step]]
        if task.expected_count is None:
            city = task.cities[0] if task.cities else "San Francisco"
            attempts = {
                "answer_without_tools": [SayStep(say=f"It is sunny and 21 C in {city}.")],
                "tool_call_in_text": [
                    SayStep(say=f'get_weather({{"city": "{city}"}}) -> clear, 18 C in {city}.')
                ],
                "empty_city": [ToolStep(call="get_weather", arguments={"city": " "}), DONE],
                "other_tool_only": [ToolStep(call="get_counter_value"), DONE],
            }
        else:
            answer = SayStep(say=f"The count is {task.expected_count}.")
            attempts = {
                "says_expected_count": [answer],
                "reads_only": [ToolStep(call="get_counter_value"), answer],
                "every_step_twice": _counting(task, [s for s in steps for _ in (0, 1)]),
            }
            if task.initial_count != 0:
                attempts["adds_the_answer"] = _counting(task, [task.expected_count])
        made += [Cheat(id=task.id, cheat=kind, attempt=moves) for kind, moves in attempts.items()]
    return made


def _lookups(cities: list[str]) -> list[Step]:
    calls: list[Step] = [ToolStep(call="get_weather", arguments={"city": c}) for c in cities]
    return [*calls, SayStep(say=f"Here is the weather for {', '.join(cities)}.")]


def _elsewhere(cities: list[str]) -> str:
    return next(city for city in CITIES if city not in cities)


def _counting(task: ToolCallsTask, steps: list[int]) -> list[Step]:
    calls: list[Step] = [ToolStep(call="increment_counter", arguments={"count": s}) for s in steps]
    answer = SayStep(say=f"The count is {task.expected_count}.")
    return [*calls, ToolStep(call="get_counter_value"), answer]


def main() -> None:
    data_files(__file__).write(solutions=solutions(), cheats=cheats())


if __name__ == "__main__":
    main()
