"""`@tool`: a method the model may call, its OpenAI schema read off its signature and docstring.

    @tool
    async def add_event(self, state: Calendar, name: str, duration: int = 30) -> str:
        \"\"\"Add an event to the calendar.

        Args:
            name: What the event is called.
            duration: Length in minutes.
        \"\"\"

The first parameter after `self` receives the session's state; the rest are the tool's
arguments. The summary line becomes the description, and the `Args:` section describes each
argument. Arguments are validated against the type hints before the method runs. An argument
that several tools share can carry its description in its type instead, written once:

    Day = Annotated[str, Field(description="A day, YYYY-MM-DD.")]
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

from gym_core.protocol import FunctionSchema, ToolSchema

__all__ = ["ToolSpec", "tool"]

ToolMethod = Callable[..., Awaitable[Any]]
_TOOL_MARK = "__rl_gym_tool__"


@dataclass(frozen=True)
class ToolSpec:
    """A tool: its schema, the model that validates its arguments, and the method."""

    name: str
    schema: ToolSchema
    arguments_model: type[BaseModel]
    method_name: str


def tool(method: ToolMethod) -> ToolMethod:
    """Mark an `async` method of a `ResourcesServer` as a tool the model may call."""
    if not inspect.iscoroutinefunction(method):
        raise TypeError(f"tool {method.__name__!r} must be `async def`")
    setattr(method, _TOOL_MARK, True)
    return method


def is_tool(value: object) -> bool:
    return getattr(value, _TOOL_MARK, False) is True


def tool_spec(method: ToolMethod) -> ToolSpec:
    """Derive the schema and argument model of a tool method."""
    name = method.__name__
    parameters = list(inspect.signature(method).parameters.values())[2:]  # self, state
    hints = get_type_hints(method, include_extras=True)
    summary, descriptions = _parse_docstring(inspect.getdoc(method) or "")
    fields: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise TypeError(f"tool {name!r}: parameter {parameter.name!r} must be a named argument")
        if parameter.name not in hints:
            raise TypeError(f"tool {name!r}: parameter {parameter.name!r} needs a type hint")
        default = ... if parameter.default is parameter.empty else parameter.default
        description = descriptions.get(parameter.name)  # else its type's, if it has one
        field = Field(default) if description is None else Field(default, description=description)
        fields[parameter.name] = (hints[parameter.name], field)
    arguments_model = create_model(  # type: ignore[call-overload]
        f"{name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
    )
    json_schema = _without_titles(arguments_model.model_json_schema())
    json_schema.setdefault("properties", {})
    schema = ToolSchema(
        function=FunctionSchema(name=name, description=summary, parameters=json_schema)
    )
    return ToolSpec(name=name, schema=schema, arguments_model=arguments_model, method_name=name)


_ARGS_HEADER = re.compile(r"^(?:Args|Arguments):\s*$", re.MULTILINE)
_ARG_ENTRY = re.compile(r"^(\w+)\s*(?:\([^)]*\))?:\s*(.*)$")
_LITERAL_KEYWORDS = frozenset({"default", "enum", "const", "examples"})


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The description (the text before `Args:`) and each argument's description."""
    header = _ARGS_HEADER.search(doc)
    if header is None:
        return " ".join(doc.split()), {}
    descriptions: dict[str, list[str]] = {}
    current = None
    entry_indent = None
    for line in doc[header.end() :].splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:  # the next section (Returns:, Raises:) ends Args
            break
        entry_indent = indent if entry_indent is None else entry_indent
        entry = _ARG_ENTRY.match(line.strip())
        if indent == entry_indent and entry:
            current = entry.group(1)
            descriptions[current] = [entry.group(2)]
        elif current is not None:
            descriptions[current].append(line.strip())
    summary = " ".join(doc[: header.start()].split())
    return summary, {name: " ".join(words).strip() for name, words in descriptions.items()}


def _without_titles(schema: Any) -> Any:
    """Pydantic titles every property; the titles only cost prompt tokens."""
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: value if key in _LITERAL_KEYWORDS else _without_titles(value)
        for key, value in schema.items()
        if not (key == "title" and isinstance(value, str))
    }
