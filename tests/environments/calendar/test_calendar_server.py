"""Both calendar modes end to end: real agent, policy and resources servers on loopback, a
scripted engine answering each user message with a right or a wrong calendar."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from environments.calendar.generate import generate_chat_tasks
from environments.calendar.schedule import Entry, Requirements, WorkingHours
from environments.calendar.server import CalendarSettings
from environments.calendar.solver import solve
from environments.calendar.task import CalendarTask
from gym_core.errors import ConfigError
from gym_core.http_client import HttpClient
from gym_core.launch.plan import env_service_name
from gym_core.protocol import RolloutResult
from gym_core.rollout_client import AsyncRolloutClient
from gym_core.settings import parse_settings
from tests.conftest import gym_stack, scripted_engine
from tests.environments.calendar.test_calendar_task import PEER_ROWS, peer_task


def calendar(*events: tuple[int, str, str, int]) -> str:
    return orjson.dumps(
        [
            {"event_id": i, "event_name": name, "start_time": start, "duration": minutes}
            for i, name, start, minutes in events
        ]
    ).decode()


def hand_made(tag: str) -> dict[str, Any]:
    """Add a 30-minute standup, add a 60-minute review, then: the review is over by 11."""
    standup = {"event_id": 0, "event_name": "Standup", "duration": 30}
    review = {"event_id": 1, "event_name": "Review", "duration": 60}
    by_eleven = {"kind": "before", "event_id": 1, "time": "11:00"}
    requests = [
        {"op": "add", "text": f"{tag}: add Standup (event id: 0), 30 minutes.", "event": standup},
        {"op": "add", "text": f"{tag}: add Review (event id: 1), 60 minutes.", "event": review},
        {
            "op": "constrain",
            "text": f"{tag}: Review (event id: 1) must be over by 11 am.",
            "constraint": by_eleven,
        },
    ]
    return {
        "id": tag,
        "prompt": [
            {"role": "system", "content": "Keep my calendar."},
            {"role": "user", "content": requests[0]["text"]},
        ],
        "events": [standup, review],
        "constraints": [by_eleven],
        "requests": requests,
    }


STANDUP_ONLY = calendar((0, "Standup", "10:00", 30))
BOTH = calendar((0, "Standup", "10:00", 30), (1, "Review", "10:30", 60))
RIGHT = calendar((1, "Review", "10:00", 60), (0, "Standup", "11:00", 30))
OVERLAPPING = calendar((0, "Standup", "10:00", 30), (1, "Review", "10:00", 60))

CHAT_RULES: list[dict[str, Any]] = [
    {"role": "user", "match": "^(right|wrong): add Standup", "reply": STANDUP_ONLY},
    {"role": "user", "match": "^(right|wrong): add Review", "reply": f"Sure, added it.\n{BOTH}"},
    {"role": "user", "match": "^right: Review", "reply": f"Moved the review:\n```{RIGHT}```"},
    {"role": "user", "match": "^wrong: Review", "reply": f"Done: {OVERLAPPING}"},
]


def tool_call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


TOOL_RULES: list[dict[str, Any]] = [
    {
        "role": "user",
        "match": "^tools-(right|wrong): add Standup",
        "tool_calls": [tool_call("add_event", event_id=0, event_name="Standup",
                                 start_time="10:00", duration=30)],
    },
    {
        "role": "user",
        "match": "^tools-right: add Review",
        "tool_calls": [tool_call("add_event", event_id=1, event_name="Review",
                                 start_time="10:30", duration=60)],
    },
    {
        "role": "user",
        "match": "^tools-wrong: add Review",
        "tool_calls": [tool_call("add_event", event_id=1, event_name="Review",
                                 start_time="10:30", duration=45)],
    },
    {
        "role": "user",
        "match": "^tools-(right|wrong): Review",
        "tool_calls": [tool_call("move_event", event_id=1, start_time="10:00"),
                       tool_call("move_event", event_id=0, start_time="11:00"),
                       tool_call("list_events")],
    },
    {"role": "tool", "reply": "Done."},
]  # fmt: skip


def solved(requirements: Requirements) -> str:
    """A right calendar for `requirements`, printed."""
    starts = solve(requirements)
    assert starts is not None
    entries = [
        Entry(event_id=e.event_id, event_name=e.event_name, start=starts[e.event_id],
              duration=e.duration).wire()
        for e in requirements.events
    ]  # fmt: skip
    return orjson.dumps(entries).decode()


def gold_rules(task: CalendarTask) -> list[dict[str, Any]]:
    """Rules answering every request of `task` with a right calendar of that moment."""
    return [
        {
            "role": "user",
            "match": f"^{re.escape(request.text)}$",
            "reply": solved(task.requirements_after(answered, WorkingHours())),
        }
        for answered, request in enumerate(task.requests, start=1)
    ]


def generated_task() -> dict[str, Any]:
    """The first generated hard task whose messages are all different (rules match on them)."""
    for row in generate_chat_tasks(20, 5, "hard"):
        texts = [request["text"] for request in row["requests"]]
        if len(set(texts)) == len(texts):
            return row
    raise AssertionError("no generated task with distinct messages")


def peer_rules() -> list[dict[str, Any]]:
    """A right final calendar for each peer row, matched on its last user message."""
    if not PEER_ROWS.exists():
        return []
    rules = []
    for line in PEER_ROWS.read_bytes().splitlines():
        row = orjson.loads(line)
        printed = solved(peer_task(row).requirements(WorkingHours()))
        last = row["responses_create_params"]["input"][-1]["content"]
        rules.append({"match": f"^{re.escape(last)}$", "reply": f"Updated:\n{printed}"})
    return rules


GENERATED = generated_task()


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    rules = [
        *CHAT_RULES,
        *TOOL_RULES,
        *gold_rules(CalendarTask.model_validate({**GENERATED, "env": "calendar"})),
        *peer_rules(),
    ]
    with (
        scripted_engine(rules) as engine_url,
        gym_stack(["calendar", "calendar_tools"], [engine_url]) as running,
    ):
        yield running


async def run(stack: Any, *rows: dict[str, Any]) -> list[RolloutResult]:
    async with AsyncRolloutClient(stack.endpoint) as client:
        return await client.rollouts(list(rows))


async def test_a_conversation_answered_right_every_turn_scores_one(stack: Any) -> None:
    [result] = await run(stack, {**hand_made("right"), "env": "calendar"})
    assert result.status == "completed"
    assert [m.role for m in result.messages] == ["system"] + ["user", "assistant"] * 3
    assert result.reward == 1.0
    assert result.metrics["turns_correct"] == 1.0
    assert result.metrics["requests_answered"] == result.metrics["requests_total"] == 3
    assert result.metrics["checks_failed"] == []
    assert result.prefix_consistent is True


async def test_a_wrong_last_calendar_scores_zero_and_says_why(stack: Any) -> None:
    [result] = await run(stack, {**hand_made("wrong"), "env": "calendar"})
    assert result.status == "completed"
    assert result.reward == 0.0
    assert result.metrics["checks_failed"] == ["no_overlap"]
    assert result.metrics["constraints_satisfied"] == 1.0
    assert result.metrics["turns_correct"] == pytest.approx(2 / 3)
    assert result.reward_components["durations"] == 1.0
    assert result.reward_components["no_overlap"] == 0.0


async def test_a_generated_hard_task_runs_through_every_request(stack: Any) -> None:
    [result] = await run(stack, {**GENERATED, "env": "calendar"})
    requests = len(GENERATED["requests"])
    assert result.status == "completed"
    assert len(result.turns) == requests
    user_texts = [m.content for m in result.messages if m.role == "user"]
    assert user_texts == [request["text"] for request in GENERATED["requests"]]
    assert result.reward == 1.0
    assert result.metrics["turns_correct"] == 1.0


async def test_the_peer_rows_run_unchanged(stack: Any) -> None:
    if not PEER_ROWS.exists():
        pytest.skip(f"the peer's rows are not at {PEER_ROWS}")
    rows = [
        {**orjson.loads(line), "env": "calendar"} for line in PEER_ROWS.read_bytes().splitlines()
    ]
    results = await run(stack, *rows)
    assert [r.status for r in results] == ["completed"] * 5
    assert [r.reward for r in results] == [1.0] * 5
    assert all(len(r.turns) == 1 for r in results)  # the model answers the last message once
    assert all("turns_correct" not in r.metrics for r in results)


async def test_the_tools_mode_judges_what_the_tools_hold(stack: Any) -> None:
    right, wrong = await run(
        stack,
        {**hand_made("tools-right"), "env": "calendar_tools"},
        {**hand_made("tools-wrong"), "env": "calendar_tools"},
    )
    assert right.status == "completed"
    assert right.reward == 1.0
    assert right.metrics["turns_correct"] == 1.0
    assert right.metrics["num_tool_calls"] == 5
    listed = next(m.content for m in reversed(right.messages) if m.name == "list_events")
    assert [e["event_id"] for e in orjson.loads(listed)] == [1, 0]
    assert wrong.reward == 0.0
    assert wrong.metrics["checks_failed"] == ["durations"]


async def test_the_conversational_mode_offers_no_tools(stack: Any) -> None:
    async with HttpClient() as http:
        chat = await http.get(f"{stack.urls[env_service_name('calendar')]}/tools")
        tools = await http.get(f"{stack.urls[env_service_name('calendar_tools')]}/tools")
    assert chat["tools"] == []
    names = [entry["function"]["name"] for entry in tools["tools"]]
    assert sorted(names) == ["add_event", "delete_event", "list_events", "move_event"]


async def test_tool_mistakes_are_explained_to_the_model(stack: Any) -> None:
    url = stack.urls[env_service_name("calendar_tools")]
    async with HttpClient() as http:
        opened = await http.post(f"{url}/sessions", {"task": {**hand_made("x"), "env": "x"}})
        calls = f"{url}/sessions/{opened['session_id']}/tools"

        async def call(name: str, **arguments: Any) -> tuple[str, bool]:
            answer = await http.post(f"{calls}/{name}", arguments)
            return answer["output"], answer["is_error"]

        standup = {"event_name": "Standup", "duration": 30}
        assert await call("add_event", event_id=0, start_time="10:00", **standup) == (
            "Added event 0 at 10:00-10:30.",
            False,
        )
        assert await call("add_event", event_id=1, start_time="10:15", **standup) == (
            "Added event 1 at 10:15-10:45. It overlaps event 0 (10:00-10:30).",
            False,
        )
        assert await call("add_event", event_id=0, start_time="12:00", **standup) == (
            "event 0 is already on the calendar; use move_event",
            True,
        )
        assert await call("move_event", event_id=1, start_time="2pm") == (
            "start_time must be a 24-hour time \"HH:MM\", got '2pm'",
            True,
        )
        assert await call("move_event", event_id=1, start_time="11:00", duration=0) == (
            "duration must be a positive number of minutes, got 0",
            True,
        )
        assert await call("move_event", event_id=1, start_time="11:00", duration=45) == (
            "Moved event 1 to 11:00-11:45.",
            False,
        )
        assert await call("delete_event", event_id=7) == (
            "there is no event 7 on the calendar (its events: 0, 1)",
            True,
        )
        assert await call("delete_event", event_id=0) == ("Deleted event 0.", False)
        listed, _ = await call("list_events")
        assert orjson.loads(listed) == [
            {"event_id": 1, "event_name": "Standup", "start_time": "11:00", "duration": 45}
        ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"working_hours": {"start": "16:00", "end": "10:00"}},
            "working_hours: start",
        ),
        ({"mode": "tools"}, "mode: Extra inputs are not permitted"),
    ],
)
def test_a_wrong_setting_names_its_key(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_settings(CalendarSettings, settings, "envs.calendar.settings")
