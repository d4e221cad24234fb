"""Playing a scripted attempt against a running resources server, exactly as an agent would.

The validator has no model: the assistant's turns come from a reference solution (see
`gym_core.hub.solutions`). Everything else is the real thing: a session seeded from the task
over HTTP, tools run by the server, the environment's replies in interactive environments,
and the verifier's reward.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import orjson

from gym_core.errors import ServiceError
from gym_core.http_client import HttpClient
from gym_core.hub.solutions import AnswerCallStep, Step, ToolStep
from gym_core.protocol import FunctionCall, Message, Task, ToolCall
from gym_core.resources_api import (
    RespondResponse,
    SeedResponse,
    ToolOutput,
    VerifyRequest,
    VerifyResponse,
)

__all__ = ["Played", "ScriptedPlayer", "wire"]


@dataclass(frozen=True)
class Played:
    """What the verifier said about one played attempt, and how long it took to say it."""

    verdict: VerifyResponse
    verify_s: float


def wire(model: Any) -> Any:
    """A protocol model as JSON-ready data, unset fields left out."""
    return model.model_dump(mode="json", exclude_none=True)


class ScriptedPlayer:
    """Plays attempts against the resources server at `base_url`."""

    def __init__(self, http: HttpClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url

    async def open(self, task: Task) -> SeedResponse:
        answer = await self.http.post(f"{self.base_url}/sessions", {"task": wire(task)})
        return SeedResponse.model_validate(answer)

    async def play(self, task: Task, steps: list[Step]) -> Played:
        """Seed a session from `task`, play `steps`, verify; the session is closed after."""
        seeded = await self.open(task)
        session = f"{self.base_url}/sessions/{seeded.session_id}"
        try:
            messages = await self._steps(session, task.messages(), steps, seeded.interactive)
            request = VerifyRequest(messages=messages, close=True)
            started = time.perf_counter()
            answer = await self.http.post(f"{session}/verify", wire(request))
            return Played(VerifyResponse.model_validate(answer), time.perf_counter() - started)
        except ServiceError:
            with contextlib.suppress(ServiceError):
                await self.http.delete(session)
            raise

    async def _steps(
        self, session: str, messages: list[Message], steps: list[Step], interactive: bool
    ) -> list[Message]:
        for index, step in enumerate(steps):
            if isinstance(step, AnswerCallStep):  # the answer: not run, and nothing follows
                calls = [
                    _answer_call(number, call)
                    for number, call in enumerate(steps[index:], start=index)
                    if isinstance(call, AnswerCallStep)
                ]
                messages.append(Message(role="assistant", tool_calls=calls))
                break
            if isinstance(step, ToolStep):
                call = ToolCall(
                    id=f"call_{index}",
                    function=FunctionCall(
                        name=step.call, arguments=orjson.dumps(step.arguments).decode()
                    ),
                )
                messages.append(Message(role="assistant", tool_calls=[call]))
                answer = await self.http.post(f"{session}/tools/{step.call}", step.arguments)
                output = ToolOutput.model_validate(answer)
                messages.append(Message(role="tool", tool_call_id=call.id, content=output.output))
                continue
            messages.append(Message(role="assistant", content=step.say))
            if interactive:  # as the agent does after every answer, the last one included
                answer = await self.http.post(
                    f"{session}/respond", {"messages": [wire(m) for m in messages]}
                )
                messages.extend(RespondResponse.model_validate(answer).messages)
        return messages


def _answer_call(index: int, step: AnswerCallStep) -> ToolCall:
    arguments = step.arguments
    text = arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()
    return ToolCall(
        id=f"call_{index}", function=FunctionCall(name=step.answer_call, arguments=text)
    )
