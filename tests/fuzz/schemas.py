"""Each service's OpenAPI document, completed with what the service checks by hand, so that
generated requests reach past the first check instead of failing it every time.

- The policy server reads chat and completion bodies itself (they pass through to engines),
  so its document has no body for them: an OpenAI request body is added.
- A task's `env` is any string in the document; the agent server serves a few, so generated
  tasks name one of those.
- A resources server's `Task` is generic in its document; the environment's own task model
  (math's `answer`) is merged in.
- Tool arguments are read by hand; each tool's parameters schema (from `GET /tools`) becomes
  the body of its own operation.
- A batch holds at most a few tasks and samples: the shape of requests is fuzzed here, load
  is measured in `bench/`.
"""

from __future__ import annotations

import copy
from typing import Any

import requests

from gym_core.catalog import EnvEntry
from gym_core.imports import import_object

__all__ = ["completed_document"]

MESSAGE = {
    "type": "object",
    "properties": {
        "role": {"enum": ["system", "user", "assistant", "tool"]},
        "content": {"type": "string"},
    },
    "required": ["role", "content"],
}
SAMPLING = {
    "max_tokens": {"type": "integer"},
    "temperature": {"type": "number"},
    "top_p": {"type": "number"},
    "seed": {"type": "integer"},
    "logprobs": {"type": "boolean"},
    "stop": {"type": "array", "items": {"type": "string"}},
}
ENGINE_BODIES = {
    "/v1/chat/completions": {
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "messages": {"type": "array", "items": MESSAGE, "minItems": 1},
            **SAMPLING,
        },
        "required": ["messages"],
    },
    "/v1/completions": {
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "prompt": {
                "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "integer"}}]
            },
            **SAMPLING,
        },
        "required": ["prompt"],
    },
}
TOOL_PATH = "/sessions/{session_id}/tools/{tool_name}"
BATCH_LIMIT = 4


def completed_document(
    url: str, envs: list[str], entry: EnvEntry | None, *, small_batches: bool
) -> dict[str, Any]:
    """The OpenAPI document of the service at `url`, completed (see the module docstring).

    `envs` are the environments the agent server serves; `entry` is the catalog entry of the
    environment a resources server serves (None for the other services). `small_batches`
    bounds batches for valid requests; requests meant to be invalid keep the real bounds, so
    that what they break is what the service refuses.
    """
    document: dict[str, Any] = requests.get(f"{url}/openapi.json", timeout=30).json()
    paths = document["paths"]
    for path, body in ENGINE_BODIES.items():
        if path in paths:
            paths[path]["post"]["requestBody"] = json_body(body)
    schemas = document.get("components", {}).get("schemas", {})
    task = schemas.get("Task", {})
    if "env" in task.get("properties", {}) and "/v1/rollouts" in paths:
        task["properties"]["env"] = {"enum": envs}
    if small_batches and "RolloutsRequest" in schemas:
        batch = schemas["RolloutsRequest"]["properties"]
        batch["tasks"]["maxItems"] = BATCH_LIMIT
        batch["samples_per_task"]["maximum"] = BATCH_LIMIT
    if entry is not None:
        merge_task_model(task, entry)
        if TOOL_PATH in paths:
            split_tools(paths, url)
    return document


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def merge_task_model(task: dict[str, Any], entry: EnvEntry) -> None:
    own = import_object(entry.server).task_model.model_json_schema()
    for name, field in own.get("properties", {}).items():
        if name not in task["properties"] and "$ref" not in str(field):
            task["properties"][name] = field
            if name in own.get("required", []):
                task.setdefault("required", []).append(name)


def split_tools(paths: dict[str, Any], url: str) -> None:
    """One operation per tool, with the tool's parameters as its body."""
    generic = paths.pop(TOOL_PATH)
    for tool in requests.get(f"{url}/tools", timeout=30).json()["tools"]:
        function = tool["function"]
        operation = copy.deepcopy(generic["post"])
        operation["operationId"] += f"_{function['name']}"
        operation["parameters"] = [p for p in operation["parameters"] if p["name"] != "tool_name"]
        operation["requestBody"] = json_body(function["parameters"])
        paths[f"/sessions/{{session_id}}/tools/{function['name']}"] = {"post": operation}
