"""Reading the structured output out of a response and validating it against the task's JSON
Schema (see README.md, Grading). Runs in the resources server's CPU workers, each of which
builds a schema's validator once and keeps it (`validator`, cached by schema text)."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Literal

import jsonschema
import orjson
import yaml

__all__ = ["Answer", "Outcome", "grade", "schema_problem", "validator"]

SchemaType = Literal["json", "yaml"]
ResponseMode = Literal["text", "tool_call"]
Check = Literal[
    "valid",
    "no_output",
    "parse_error",
    "no_tool_call",
    "wrong_tool",
    "several_calls",
    "missing_payload_key",
    "extra_payload_keys",
    "validation_error",
]
VALIDATORS_KEPT = 1024
"""Validators each worker keeps (one per distinct schema; a training set has few)."""

_FENCED = re.compile(r"^```[A-Za-z]*\n(.*)\n```$", re.S)


@dataclass(frozen=True)
class Answer:
    """What the verifier reads: the last assistant message's text and tool calls."""

    text: str
    calls: list[tuple[str, str]]
    """Each call's function name and its raw arguments."""


@dataclass(frozen=True)
class Outcome:
    """Whether the output validates and, when not, where and why it fails."""

    check: Check
    path: str | None = None
    """The JSON path of the first failing value (`$.cast[2].name`), for validation errors."""
    message: str | None = None


def grade(
    answer: Answer,
    schema_str: str,
    schema_type: SchemaType,
    mode: ResponseMode,
    tool_name: str | None,
    payload_key: str | None,
) -> Outcome:
    if mode == "tool_call":
        found = _called_payload(answer, tool_name or "", payload_key)
    else:
        found = _text_payload(answer.text, schema_type)
    if isinstance(found, Outcome):
        return found
    error = jsonschema.exceptions.best_match(validator(schema_str).iter_errors(found))
    if error is None:
        return Outcome("valid")
    return Outcome("validation_error", error.json_path, error.message[:300])


def _text_payload(text: str, schema_type: SchemaType) -> Any:
    """The whole response parsed as the format, optionally inside one fenced block."""
    text = text.strip()
    if not text:
        return Outcome("no_output")
    fenced = _FENCED.match(text)
    body = fenced.group(1) if fenced else text
    try:
        return orjson.loads(body) if schema_type == "json" else yaml.safe_load(body)
    except (orjson.JSONDecodeError, yaml.YAMLError) as error:
        return Outcome("parse_error", message=str(error)[:300])


def _called_payload(answer: Answer, tool_name: str, payload_key: str | None) -> Any:
    """The arguments of the one call, to `tool_name`, that the answer makes; unwrapped from
    `payload_key` when the tool wraps its payload."""
    if not answer.calls:
        return Outcome("no_tool_call", message="the answer calls no tool")
    others = sorted({name for name, _ in answer.calls if name != tool_name})
    if others:
        return Outcome("wrong_tool", message=f"called {', '.join(others)}, not only {tool_name}")
    if len(answer.calls) > 1:
        return Outcome("several_calls", message=f"{len(answer.calls)} calls to {tool_name}")
    try:
        arguments = orjson.loads(answer.calls[0][1] or "{}")
    except orjson.JSONDecodeError as error:
        return Outcome("parse_error", message=f"the arguments are not JSON: {error}"[:300])
    if payload_key is None:
        return arguments
    if not isinstance(arguments, dict) or payload_key not in arguments:
        return Outcome("missing_payload_key", message=f"no {payload_key!r} in the arguments")
    extra = sorted(key for key in arguments if key != payload_key)
    if extra:
        return Outcome("extra_payload_keys", message=f"arguments besides {payload_key!r}: {extra}")
    return arguments[payload_key]


@functools.lru_cache(maxsize=VALIDATORS_KEPT)
def validator(schema_str: str) -> jsonschema.protocols.Validator:
    """The validator of a task's schema, made strict (see `strict`), built once per worker."""
    schema = strict(orjson.loads(schema_str))
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return cls(schema)


def strict(schema: Any) -> Any:
    """The schema as NeMo Gym grades against it: every object schema that lists properties
    requires them all and allows no others."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    made = {key: strict(value) for key, value in schema.items()}
    if isinstance(schema.get("properties"), dict):
        made["required"] = list(schema["properties"])
        made["additionalProperties"] = False
    return made


def schema_problem(schema_str: str) -> str | None:
    """Why `schema_str` is no usable JSON Schema, or None."""
    try:
        schema = orjson.loads(schema_str)
    except orjson.JSONDecodeError as error:
        return f"not JSON: {error}"
    if not isinstance(schema, dict | bool):
        return f"a JSON Schema is an object, not {type(schema).__name__}"
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as error:
        return f"not a valid JSON Schema: {error.message} (at {error.json_path})"
    return None
