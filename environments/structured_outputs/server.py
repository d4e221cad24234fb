"""Structured output: data that fits a JSON Schema, written as text or passed as a tool call
among distractor tools; reward 1 when it parses and validates (see README.md, Grading)."""

from __future__ import annotations

from pydantic import JsonValue, model_validator

from environments.structured_outputs.grading import (
    Answer,
    Outcome,
    ResponseMode,
    SchemaType,
    grade,
    schema_problem,
)
from resources_server import ResourcesServer, TaskFields, ToolError, Trajectory, Verdict
from resources_server.cpu_pool import CpuTimeExceeded


class StructuredTask(TaskFields):
    schema_str: str
    """The JSON Schema the output must fit, as JSON text (NeMo Gym's field)."""
    schema_type: SchemaType = "json"
    """How a text answer is written: `json` or `yaml`."""
    response_mode: ResponseMode = "text"
    """`text`: the answer is the final message; `tool_call`: a call to `tool_name`."""
    tool_name: str | None = None
    tool_payload_key: str | None = None
    """When the tool wraps the output: the argument that holds it."""
    difficulty: str | None = None

    @model_validator(mode="after")
    def _tool_call_names_its_tool(self) -> StructuredTask:
        if self.response_mode == "tool_call" and not self.tool_name:
            raise ValueError("tool_name is required when response_mode is tool_call")
        return self


class StructuredOutputsServer(ResourcesServer[StructuredTask, None]):
    """Reward 1 when the output parses and validates against the task's schema, else 0."""

    task_model = StructuredTask
    cpu_preload = ("environments.structured_outputs.grading",)

    async def seed(self, task: StructuredTask) -> None:
        """Refuse a schema that is no JSON Schema: no answer could be judged against it."""
        try:
            problem = await self.run_cpu(schema_problem, task.schema_str)
        except CpuTimeExceeded as error:
            problem = f"checking it took too long ({error})"
        if problem is not None:
            raise ToolError(f"task.schema_str: {problem}")

    async def verify(self, task: StructuredTask, trajectory: Trajectory, state: None) -> Verdict:
        outcome: Outcome = await self.run_cpu(
            grade,
            _answer(trajectory),
            task.schema_str,
            task.schema_type,
            task.response_mode,
            task.tool_name,
            task.tool_payload_key,
        )
        metrics: dict[str, JsonValue] = {
            "output_check": outcome.check,
            "error_path": outcome.path,
            "error": outcome.message,
            "response_mode": task.response_mode,
        }
        return Verdict(reward=float(outcome.check == "valid"), metrics=metrics)


def _answer(trajectory: Trajectory) -> Answer:
    """The last assistant message: its text and its calls."""
    for message in reversed(trajectory.messages):
        if message.role == "assistant":
            calls = [(c.function.name, c.function.arguments) for c in message.tool_calls or []]
            return Answer(text=message.content or "", calls=calls)
    return Answer(text="", calls=[])
