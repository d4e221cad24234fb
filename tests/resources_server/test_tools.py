from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import Field

from resources_server.tools import tool, tool_spec


class Calendar:
    @tool
    async def add_event(
        self,
        state: object,
        title: str,
        duration: int = 30,
        kind: Literal["meeting", "focus"] = "meeting",
    ) -> str:
        """Add an event to the calendar.

        It goes in the first free slot.

        Args:
            title: What the event is called;
                shown to everyone.
            duration: Length in minutes.
            kind (str): meeting or focus time.

        Returns:
            The event's id.
        """
        return title


def test_the_schema_comes_from_hints_and_docstring() -> None:
    spec = tool_spec(Calendar.add_event)
    function = spec.schema.function
    assert function.name == "add_event"
    assert function.description == "Add an event to the calendar. It goes in the first free slot."
    assert function.parameters == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "title": {
                "type": "string",
                "description": "What the event is called; shown to everyone.",
            },
            "duration": {"type": "integer", "default": 30, "description": "Length in minutes."},
            "kind": {
                "type": "string",
                "enum": ["meeting", "focus"],
                "default": "meeting",
                "description": "meeting or focus time.",
            },
        },
        "required": ["title"],
    }


Day = Annotated[str, Field(description="A day, YYYY-MM-DD.", min_length=10)]


class Report:
    @tool
    async def visits(self, state: object, first: Day, last: Day = "") -> int:
        """Visits between two days.

        Args:
            last: The last day; empty for today.
        """
        return 0


def test_a_shared_argument_type_carries_its_description_and_checks() -> None:
    spec = tool_spec(Report.visits)
    assert spec.schema.function.description == "Visits between two days."
    assert spec.schema.function.parameters["properties"] == {
        "first": {"type": "string", "minLength": 10, "description": "A day, YYYY-MM-DD."},
        "last": {
            "type": "string",
            "minLength": 10,
            "default": "",
            "description": "The last day; empty for today.",
        },
    }
    with pytest.raises(ValueError, match="first"):
        spec.arguments_model.model_validate({"first": "today"})


def test_a_property_named_title_keeps_its_schema() -> None:
    properties = tool_spec(Calendar.add_event).schema.function.parameters["properties"]
    assert "title" in properties


def test_arguments_are_validated_against_the_hints() -> None:
    model = tool_spec(Calendar.add_event).arguments_model
    assert model.model_validate({"title": "x", "duration": "45"}).duration == 45
    with pytest.raises(ValueError, match="duration"):
        model.model_validate({"title": "x", "duration": "long"})
    with pytest.raises(ValueError, match="colour"):
        model.model_validate({"title": "x", "colour": "red"})


def test_tools_must_be_async_and_typed() -> None:
    with pytest.raises(TypeError, match="must be `async def`"):
        tool(lambda self, state: None)  # type: ignore[arg-type]

    async def untyped(self, state, x):  # type: ignore[no-untyped-def]
        return x

    with pytest.raises(TypeError, match="needs a type hint"):
        tool_spec(tool(untyped))
