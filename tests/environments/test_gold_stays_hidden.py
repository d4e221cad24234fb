"""The answer never reaches the model (issue 11, item 8).

For every built-in environment, its example tasks are rolled out through the real services
(agent, policy server, resources server) against a scripted engine that records every
request it gets and, in an environment with tools, calls each of them every turn (`run_python`
with a program that prints what it finds around it). Nothing the policy was sent (prompts,
tool schemas, tool outputs, the environment's turns) may then hold a gold field of its task.

The gold fields are a task row's fields beyond the protocol's (`prompt`, `tools`, ...), but
for `PUBLIC_FIELDS`, which are meant for the model or for people. They are looked for thus:

- A structured gold value (a list or an object: the tests, the events and constraints a
  calendar must meet, a reference calendar) in full, and each object in it in full (one test,
  one event): as a JSON value anywhere in a request, or written inside any of its texts.
- A list of test cases (objects with `stdin` and `stdout`, or `args` and `expected`) also as
  a reader sees it: it leaks when every case's input and expected output appear as text. A
  statement may show an example or two, never the whole answer key.
- A string or number (an answer, a reference program) as text, when it is specific enough:
  at least `MIN_SPECIFIC` characters, and not part of a longer word or number. Shorter values
  (`4`, `66`) occur naturally in what a model is sent, so a match would say nothing.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from gym_core.catalog import default_catalog_path
from gym_core.config import load_config
from gym_core.imports import import_object
from gym_core.protocol import RolloutResult, Task, ToolSchema
from gym_core.rollout_client import RolloutClient
from tests.conftest import gym_stack, scripted_engine

CONFIG = load_config(default_catalog_path())
PUBLIC_FIELDS = {
    "topic": "a label for people",
    "difficulty": "a label for people",
    "fn_name": "the statement names the function to write",
    "float_tolerance": "how exactly numbers must match, which the statement says",
    "working_hours": "the rules state the working day",
    "requests": "the user's messages, which the environment sends one per turn by design",
    "options": "a multiple-choice question shows its options",
    "grading_mode": "where the answer is read, which the prompt asks for",
    "answer_style": "the same, as a label for people",
    "record_kind": "what the document is about, a label for people",
    "schema_str": "the schema the output must fit, which the prompt or the tool shows",
    "schema_type": "the format the prompt asks for",
    "response_mode": "text or a tool call, which the prompt asks for",
    "tool_name": "the tool to call, among the tools offered by design",
    "tool_payload_key": "the argument of that tool that holds the output",
}
NOTHING_HIDDEN = {
    "structured_outputs": "the schema is the task, shown to the model; there is no gold answer",
}
"""Environments whose tasks hold nothing the model may not see (so nothing to look for)."""
MIN_SPECIFIC = 3
BATCH = 50
"""Tasks sent in one rollout request (a whole example file can be megabytes)."""
CASE_KEYS = (("stdin", "stdout"), ("args", "expected"))
LOOK_AROUND = """import glob, os
print(sorted(os.environ.items()), os.getcwd(), sorted(os.listdir("/")))
for path in sorted(glob.glob("/proc/[0-9]*/cmdline") + glob.glob("/proc/[0-9]*/environ")):
    print(path, open(path, "rb").read())
for top in (".", "/tmp"):
    for root, _, names in os.walk(top):
        for name in names:
            path = os.path.join(root, name)
            print(path, open(path, errors="replace").read(500))
"""
ARGUMENTS: dict[str, dict[str, Any]] = {
    "run_python": {"code": LOOK_AROUND, "stdin": ""},
    "add_event": {"event_id": 0, "event_name": "Leak check", "start_time": "11:00", "duration": 30},
    "move_event": {"event_id": 0, "start_time": "11:30"},
}
"""Arguments that make a tool work; any other gets placeholders of the types it wants."""
PLACEHOLDERS = {"integer": 1, "number": 1.0, "string": "x", "boolean": False, "array": []}


def engine_rules(tools: list[ToolSchema]) -> list[dict[str, Any]]:
    """Every tool called at once after each user message, then a short reply; without tools,
    a short reply."""
    if not tools:
        return [{"reply": "I am not sure."}]
    calls = [{"name": t.function.name, "arguments": arguments_for(t)} for t in tools]
    return [{"role": "tool", "reply": "Done."}, {"tool_calls": calls}]


def arguments_for(schema: ToolSchema) -> dict[str, Any]:
    name, parameters = schema.function.name, schema.function.parameters
    if name in ARGUMENTS:
        return ARGUMENTS[name]
    properties = parameters.get("properties") or {}
    return {
        key: PLACEHOLDERS.get(properties[key].get("type"), "x")
        for key in parameters.get("required") or []
    }


def gold_fields(row: dict[str, Any]) -> dict[str, Any]:
    protocol = set(Task.model_fields)
    return {k: v for k, v in row.items() if k not in protocol and k not in PUBLIC_FIELDS}


def canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def values_in(value: Any) -> Iterator[Any]:
    """`value` and every value inside it, and the JSON values written inside its strings."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from values_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from values_in(item)
    elif isinstance(value, str):
        for embedded in embedded_json(value):
            yield from values_in(embedded)


@functools.cache
def embedded_json(text: str) -> tuple[Any, ...]:
    """The JSON lists and objects written in `text`."""
    decoder, found, position = json.JSONDecoder(), [], 0
    while (match := re.compile(r"[\[{]").search(text, position)) is not None:
        try:
            value, end = decoder.raw_decode(text, match.start())
        except ValueError:
            position = match.start() + 1
            continue
        found.append(value)
        position = end
    return tuple(found)


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)
    elif isinstance(value, str):
        yield value


def written(value: Any, text: str) -> bool:
    """Whether `value` appears in `text`, not as part of a longer word or number."""
    shown = (value if isinstance(value, str) else json.dumps(value)).strip()
    return re.search(rf"(?<![\w.]){re.escape(shown)}(?![\w])", text) is not None


def leaks(gold: dict[str, Any], request: dict[str, Any]) -> list[str]:
    """The gold fields of one task found in one request, by the rules above."""
    text = "\n".join(strings_in(request))
    sent = {canonical(value) for value in values_in(request)}
    found = []
    for field, value in gold.items():
        if value in ([], {}):
            continue  # nothing to give away
        if isinstance(value, list | dict):
            items = enumerate(value) if isinstance(value, list) else value.items()
            parts = {field: value} | {
                f"{field}[{key!r}]": item for key, item in items if isinstance(item, dict)
            }
            found += [
                f"{part} (in full, as JSON)" for part, v in parts.items() if canonical(v) in sent
            ]
            if is_test_cases(value) and all(case_written(case, text) for case in value):
                found.append(f"{field} (every case's input and output, as text)")
        elif len(str(value).strip()) >= MIN_SPECIFIC and written(value, text):
            found.append(f"{field}={value!r} (as text)")
    return found


def is_test_cases(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(
            isinstance(case, dict) and any(set(keys) <= set(case) for keys in CASE_KEYS)
            for case in value
        )
    )


def case_written(case: dict[str, Any], text: str) -> bool:
    [(given, wanted)] = [keys for keys in CASE_KEYS if set(keys) <= set(case)]
    shown = case[given] if given == "stdin" else json.dumps(case[given])[1:-1]
    return written(shown, text) and written(case[wanted], text)


def owners(request: dict[str, Any], results: list[RolloutResult]) -> list[RolloutResult]:
    """The rollouts whose conversation begins with what `request` sent."""
    sent = [(m["role"], m.get("content") or "") for m in request["messages"]]
    return [
        result
        for result in results
        if [(m.role, m.content or "") for m in result.messages[: len(sent)]] == sent
    ]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("name", sorted(set(CONFIG.envs) - set(NOTHING_HIDDEN)))
def test_no_gold_field_reaches_the_policy(name: str) -> None:
    entry = CONFIG.envs[name]
    rows = [json.loads(line) for line in entry.example_path().read_text().splitlines() if line]
    tools = import_object(entry.server).tool_schemas()
    with (
        # OpenAI's shape: no token prompts, so every turn reaches the engine as the chat
        # request itself (messages, tools), which is what the policy is sent either way.
        scripted_engine(engine_rules(tools), record_requests=True, shape="openai") as engine,
        gym_stack([name], [engine]) as running,
        RolloutClient(running.endpoint) as client,
    ):
        results = [
            result
            for start in range(0, len(rows), BATCH)
            for result in client.rollouts([{**row, "env": name} for row in rows[start:][:BATCH]])
        ]
        with urllib.request.urlopen(f"{engine}/requests", timeout=60) as answer:
            requests = json.load(answer)["requests"]
    assert [(r.task_id, r.failure) for r in results if r.status == "failed"] == []
    golds = {row["id"]: gold_fields(row) for row in rows}
    assert all(golds.values()), "every task has gold fields to look for"
    found: set[str] = set()
    asked: set[str] = set()
    for request in requests:
        mine = owners(request, results)
        assert mine, f"a request no rollout made: {request['messages'][:2]}"
        for result in mine:
            asked.add(result.task_id)
            found |= {f"{result.task_id}: {leak}" for leak in leaks(golds[result.task_id], request)}
    assert sorted(found) == []
    assert asked == set(golds)
    if tools:
        assert any(m["role"] == "tool" for r in requests for m in r["messages"])


CASES = [{"stdin": "1\n", "stdout": "2\n"}, {"stdin": "30\n", "stdout": "60\n"}]


def asking(content: str, **more: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": content}], **more}


@pytest.mark.parametrize(
    ("gold", "sent", "found"),
    [
        ({"answer": "107"}, asking("So it is 107."), ["answer='107' (as text)"]),
        ({"answer": "107"}, asking("Add 1070 and 3."), []),
        ({"answer": "66"}, asking("What is 66 + 0?"), []),
        (
            {"tests": CASES},
            asking(f"the tests: {json.dumps(CASES)}"),
            [
                "tests (in full, as JSON)",
                "tests[0] (in full, as JSON)",
                "tests[1] (in full, as JSON)",
                "tests (every case's input and output, as text)",
            ],
        ),
        (
            {"tests": CASES},
            asking("", tools=[{"type": "function", "example": CASES[1]}]),
            ["tests[1] (in full, as JSON)"],
        ),
        (
            {"tests": CASES},
            asking("1 gives 2, and 30 gives 60."),
            ["tests (every case's input and output, as text)"],
        ),
        ({"tests": CASES}, asking("For example, 1 gives 2."), []),
        (
            {"solution": [{"event_id": 0, "start_time": "11:00"}]},
            asking('Added: {"start_time": "11:00", "event_id": 0}'),
            ["solution[0] (in full, as JSON)"],
        ),
    ],
)
def test_the_rules_find_what_would_give_the_answer_away(
    gold: dict[str, Any], sent: dict[str, Any], found: list[str]
) -> None:
    assert leaks(gold, sent) == found
