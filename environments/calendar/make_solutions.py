"""The reference solutions `gym hub validate` plays on the bundled tasks:

    python -m environments.calendar.make_solutions

rewrites `data/solutions.jsonl` (the `calendar` entry) and `data/tools_solutions.jsonl`
(`calendar_tools`) from the bundled tasks. Both play one answer per user request, so the
conversation runs to its last request as it would with a model. After request `k` the
calendar meets the first `k` requests, keeping the events of the one before in place when it
can (the solver finds it); the conversational reference prints it,
the tools reference changes the tools' calendar into it (deleting, moving and adding events)
and says what it did. The wrong solution is the same until the last calendar, which has one
near miss: the last event overlaps the one before it, is missing, or has the wrong length
(taking turns across the tasks, so that each of those checks is exercised).

The same run writes the cheat probes of every `CHEAT_EVERY`-th task (`data/cheats.jsonl`,
`data/tools_cheats.jsonl`), each of which must earn 0. Both modes:

    echo_prompt           answers each user message with the message itself
    ignores_constraints   every event, with its length, back to back from the start of the
                          day, in an order that breaks a constraint: the format and the
                          counts right, the constraints not
    stacked_at_start      every event, with its length, at the start of the day

The conversation: `empty_calendar` (`[]` after every message) and `each_event_twice` (the
right calendar, and every event again right after itself, covering two slots). The tools:
`calendar_in_text` (prints the right calendars but never calls a tool) and `list_only` (lists
the events after each message, and changes nothing).
"""

from __future__ import annotations

from itertools import islice, permutations
from typing import Any

import orjson

from environments.calendar.checks import check
from environments.calendar.clock import format_hhmm, parse_hhmm
from environments.calendar.conversation import AddEvent, Cancel, Constrain, Request, Resize
from environments.calendar.generate import solved_calendar
from environments.calendar.schedule import At, Entry, Requirements, WorkingHours
from environments.calendar.solver import solve
from environments.calendar.task import CalendarTask
from gym_core.hub.solutions import (
    Cheat,
    SayStep,
    Solution,
    Step,
    ToolStep,
    data_files,
)
from gym_core.tasks_file import load_tasks

__all__ = [
    "CHEATS",
    "SOLUTIONS",
    "TASKS",
    "TOOLS_CHEATS",
    "TOOLS_SOLUTIONS",
    "TOOLS_TASKS",
    "cheats",
    "near_miss",
    "solutions",
]

TASKS, SOLUTIONS, CHEATS = data_files(__file__)
TOOLS_TASKS, TOOLS_SOLUTIONS, TOOLS_CHEATS = data_files(__file__, "tools_")
CHEAT_EVERY = 10
ORDERS_TRIED = 5040
"""Orders of the events `ignores_constraints` tries (all of them up to 7 events)."""

Calendar = list[dict[str, Any]]
"""Events as a calendar prints them (`Entry.wire`), in order of start time."""


def solutions(*, tools: bool) -> list[Solution]:
    """The solutions of `calendar` (or, with `tools`, of `calendar_tools`) for its bundled
    tasks."""
    play = tool_steps if tools else chat_steps
    made = []
    for number, task in enumerate(load_tasks(TOOLS_TASKS if tools else TASKS, env="calendar")):
        calendars = right_calendars(CalendarTask.model_validate(task.model_dump()))
        wrong = [*calendars[:-1], near_miss(calendars[-1], number)]
        made.append(Solution(id=task.id, reference=play(calendars), wrong=play(wrong)))
    return made


def right_calendars(task: CalendarTask) -> list[Calendar]:
    """A right calendar after each of the task's requests, each as close to the one before as
    the solver finds."""
    hours = task.working_hours or WorkingHours()
    calendars: list[Calendar] = [[]]
    for answered, request in enumerate(task.requests, start=1):
        requirements = task.requirements_after(answered, hours)
        calendars.append(next_calendar(calendars[-1], requirements, named(request)))
    return calendars[1:]


def next_calendar(held: Calendar, requirements: Requirements, moving: set[int]) -> Calendar:
    """A calendar meeting `requirements` that leaves the events of `held` where they are (as
    a careful assistant would); failing that, all but the ones in `moving`; failing that, the
    solver's own."""
    lengths = {event.event_id: event.duration for event in requirements.events}
    kept = [entry for entry in held if lengths.get(entry["event_id"]) == entry["duration"]]
    for staying in (kept, [entry for entry in kept if entry["event_id"] not in moving], []):
        pins = [At(event_id=entry["event_id"], time=entry["start_time"]) for entry in staying]
        pinned = requirements.model_copy(update={"constraints": (*requirements.constraints, *pins)})
        if solve(pinned) is not None:
            return solved_calendar(pinned)
    return solved_calendar(requirements)


def named(request: Request) -> set[int]:
    """The events a request is about."""
    if isinstance(request, AddEvent):
        return {request.event.event_id}
    if isinstance(request, Constrain):
        return set(request.constraint.event_ids)
    if isinstance(request, Resize | Cancel):
        return {request.event_id}
    return set()


def near_miss(calendar: Calendar, number: int) -> Calendar:
    """`calendar` with one mistake in its last event: kind `number` mod 3 of overlapping the
    event before it, missing, or lasting 15 minutes less (more when it is that short)."""
    *before, last = calendar
    kind = number % 3
    if kind == 0:
        return [*before, {**last, "start_time": before[-1]["start_time"]}]
    if kind == 1:
        return before
    duration = last["duration"] - 15 if last["duration"] > 15 else last["duration"] + 15
    return [*before, {**last, "duration": duration}]


def chat_steps(calendars: list[Calendar]) -> list[Step]:
    """Conversational mode: print the whole calendar after each request."""
    return [
        SayStep(say=f"Here is the calendar:\n{orjson.dumps(calendar).decode()}")
        for calendar in calendars
    ]


def tool_steps(calendars: list[Calendar]) -> list[Step]:
    """Tools mode: after each request, the tool calls that turn the tools' calendar into the
    next one, then a short sentence saying what changed."""
    steps: list[Step] = []
    held: Calendar = []
    for calendar in calendars:
        calls = changes(held, calendar)
        steps += calls
        steps.append(SayStep(say=summary(calls)))
        held = calendar
    return steps


def changes(held: Calendar, wanted: Calendar) -> list[ToolStep]:
    """`delete_event`, `move_event` and `add_event` calls, in that order, from `held` to
    `wanted`."""
    old = {event["event_id"]: event for event in held}
    new = {event["event_id"]: event for event in wanted}
    deletes = [
        ToolStep(call="delete_event", arguments={"event_id": event_id})
        for event_id in old
        if event_id not in new
    ]
    moves, adds = [], []
    for event_id, event in new.items():
        if event_id not in old:
            adds.append(ToolStep(call="add_event", arguments=event))
        elif old[event_id] != event:
            arguments = {"event_id": event_id, "start_time": event["start_time"]}
            if old[event_id]["duration"] != event["duration"]:
                arguments["duration"] = event["duration"]
            moves.append(ToolStep(call="move_event", arguments=arguments))
    return deletes + moves + adds


def summary(calls: list[ToolStep]) -> str:
    """What the calls did, in one sentence."""
    if not calls:
        return "The calendar already fits; nothing to change."
    done = {"delete_event": "deleted", "move_event": "moved", "add_event": "added"}
    return (
        "Done: " + ", ".join(f"{done[c.call]} event {c.arguments['event_id']}" for c in calls) + "."
    )


def cheats(*, tools: bool) -> list[Cheat]:
    """The cheat probes of `calendar` (or, with `tools`, of `calendar_tools`) for every
    `CHEAT_EVERY`-th bundled task."""
    play = tool_steps if tools else chat_steps
    made = []
    for task in load_tasks(TOOLS_TASKS if tools else TASKS, env="calendar")[::CHEAT_EVERY]:
        problem = CalendarTask.model_validate(task.model_dump())
        turns = len(problem.requests)
        requirements = problem.requirements(problem.working_hours or WorkingHours())
        attempts: dict[str, list[Step]] = {
            "echo_prompt": [SayStep(say=request.text) for request in problem.requests]
        }
        broken = constraints_broken(requirements)
        if broken is not None:
            attempts["ignores_constraints"] = play([broken] * turns)
        attempts["stacked_at_start"] = play([stacked(requirements)] * turns)
        if tools:
            attempts["calendar_in_text"] = chat_steps(right_calendars(problem))
            listing: list[Step] = [ToolStep(call="list_events"), SayStep(say="Done.")]
            attempts["list_only"] = listing * turns
        else:
            attempts["empty_calendar"] = chat_steps([[]] * turns)
            twice = each_event_twice(right_calendars(problem)[-1])
            attempts["each_event_twice"] = chat_steps([twice] * turns)
        made += [Cheat(id=task.id, cheat=kind, attempt=steps) for kind, steps in attempts.items()]
    return made


def constraints_broken(requirements: Requirements) -> Calendar | None:
    """The events back to back from the start of the day in the first order that breaks a
    constraint and nothing else; None when no order does (a task without constraints)."""
    for order in islice(permutations(requirements.events), ORDERS_TRIED):
        start, entries = requirements.hours.start, []
        for event in order:
            entries.append(Entry(**event.model_dump(), start=start))
            start += event.duration
        if check(entries, requirements).failed == ("constraints",):
            return [entry.wire() for entry in entries]
    return None


def stacked(requirements: Requirements) -> Calendar:
    """Every event at the start of the day."""
    start = requirements.hours.start
    return [Entry(**event.model_dump(), start=start).wire() for event in requirements.events]


def each_event_twice(calendar: Calendar) -> Calendar:
    """`calendar`, and every event again right after itself."""
    again = [
        {**event, "start_time": format_hhmm(parse_hhmm(event["start_time"]) + event["duration"])}
        for event in calendar
    ]
    return calendar + again


def main() -> None:
    data_files(__file__).write(solutions=solutions(tools=False), cheats=cheats(tools=False))
    data_files(__file__, "tools_").write(solutions=solutions(tools=True), cheats=cheats(tools=True))


if __name__ == "__main__":
    main()
