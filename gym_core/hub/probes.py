"""Malformed requests `gym hub validate` sends to a resources server, and what each must get.

A request the environment cannot accept (a task without a field its task model requires,
tool arguments of the wrong shape, a session that does not exist) must be refused with a 4xx
that says why. A request its models do accept but that is odd (an empty string, a negative
number, an empty list) must not crash it. Neither may ever get a 5xx: that is the environment
failing where it should have refused.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, JsonValue, ValidationError

from gym_core.errors import ServiceError, ServiceFailed, ServiceRejected
from gym_core.http_client import HttpClient
from gym_core.protocol import Task, ToolSchema

__all__ = ["Probe", "run_probe", "session_probes", "task_probes"]

ODD_VALUES: tuple[JsonValue, ...] = (None, 0, -1, "", [], {})
"""What each field and argument is replaced with in turn: other JSON types, and empty or
negative values of the usual ones."""
UNKNOWN_SESSION = "no-such-session"
PROTOCOL_KEYS = frozenset(Task.model_fields)


@dataclass(frozen=True)
class Probe:
    what: str
    """The request in words, for the report."""
    path: str
    """Relative to the server's base URL."""
    body: Any
    """JSON data, or bytes sent as they are."""
    refuse: bool
    """True: it must get a 4xx. False: anything but a 5xx."""


def task_probes(row: dict[str, Any], task_model: type[BaseModel]) -> list[Probe]:
    """Seed requests from a valid task row with each of its environment's fields dropped or
    replaced by an odd value; whether one must be refused is what `task_model` says."""
    task_id = row.get("id")
    probes = [
        Probe("a seed request that is not JSON", "/sessions", b"{not json", refuse=True),
        Probe("a task without a prompt", "/sessions", {"task": {"id": task_id}}, refuse=True),
    ]
    for key in sorted(set(row) - PROTOCOL_KEYS):
        variants: list[tuple[str, dict[str, Any]]] = [
            (f"task {task_id!r} without its field {key!r}", _without(row, key))
        ]
        variants += [
            (f"task {task_id!r} with {key}={value!r}", {**row, key: value})
            for value in ODD_VALUES
            if value != row[key] or type(value) is not type(row[key])
        ]
        probes += [
            Probe(what, "/sessions", {"task": task}, refuse=not _accepts(task_model, task))
            for what, task in variants
        ]
    return probes


def session_probes(
    session_id: str, tools: list[ToolSchema], known_arguments: dict[str, dict[str, JsonValue]]
) -> list[Probe]:
    """Tool and verify requests: unknown sessions and tools, and bad tool arguments.

    `known_arguments` holds valid arguments for some tools (from the reference solutions);
    the odd values replace one argument of those at a time.
    """
    session = f"/sessions/{session_id}"
    unknown = f"/sessions/{UNKNOWN_SESSION}"
    any_tool = tools[0].function.name if tools else "any_tool"
    probes = [
        Probe("verify on an unknown session", f"{unknown}/verify", {"messages": []}, refuse=True),
        Probe("a tool call on an unknown session", f"{unknown}/tools/{any_tool}", {}, refuse=True),
        Probe("respond on an unknown session", f"{unknown}/respond", {"messages": []}, refuse=True),
        Probe("a tool that does not exist", f"{session}/tools/no_such_tool", {}, refuse=True),
        Probe("verify with messages not a list", f"{session}/verify", {"messages": 1}, refuse=True),
    ]
    for schema in tools:
        name = schema.function.name
        path = f"{session}/tools/{name}"
        required = schema.function.parameters.get("required") or []
        properties = schema.function.parameters.get("properties") or {}
        base = known_arguments.get(name, {})
        probes += [
            Probe(f"tool {name!r} with arguments that are not JSON", path, b"{oops", refuse=True),
            Probe(f"tool {name!r} with arguments that are a list", path, [1], refuse=True),
            Probe(f"tool {name!r} with no arguments", path, {}, refuse=bool(required)),
            Probe(
                f"tool {name!r} with an argument it does not take",
                path,
                {**base, "no_such_argument": 1},
                refuse=True,
            ),
        ]
        for argument in sorted(properties if isinstance(properties, dict) else {}):
            probes += [
                Probe(
                    f"tool {name!r} with {argument}={value!r}",
                    path,
                    {**base, argument: value},
                    refuse=False,
                )
                for value in ODD_VALUES
            ]
    return probes


async def run_probe(http: HttpClient, base_url: str, probe: Probe) -> str | None:
    """None when the server answered as it must; otherwise what went wrong."""
    try:
        answer = await http.post(f"{base_url}{probe.path}", probe.body)
    except ServiceRejected:
        return None
    except ServiceFailed as error:
        return (
            f"{probe.what}: HTTP {error.status} ({_short(error.detail)}); the server failed "
            "where it should have refused the request with a 4xx naming the field"
        )
    except ServiceError as error:
        return f"{probe.what}: {error}"
    if isinstance(answer, dict) and isinstance(answer.get("session_id"), str):
        with contextlib.suppress(ServiceError):
            await http.delete(f"{base_url}/sessions/{answer['session_id']}")
    if probe.refuse:
        return f"{probe.what}: accepted, but it must be refused with a 4xx naming the problem"
    return None


def _accepts(task_model: type[BaseModel], task: dict[str, Any]) -> bool:
    try:
        task_model.model_validate(task)
    except ValidationError:
        return False
    return True


def _without(row: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != key}


def _short(detail: Any) -> str:
    text = str(detail)
    return text if len(text) <= 200 else text[:200] + "..."
