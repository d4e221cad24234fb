"""Typed clients for the two services an episode talks to: the policy and a resources server.

They turn transport failures into `EpisodeFailure`s of the right kind, so the episode loop
reads as the episode and not as error handling.

A call that never got the resources server's own answer (`gym_core.errors.dropped`: the
connection broke, or a proxy answered for it) was lost with the replica that ran it:
`replica_lost`. Opening a session and verifying (in a session or in one call) change nothing
that matters and are sent once more first; tool calls and `respond` change the session's state
and are never sent twice.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pydantic import TypeAdapter, ValidationError

from agent_server.policy_control import PolicyControl
from gym_core.chat_api import (
    PREFIX_FIELD,
    SESSION_HEADER,
    ChatCompletion,
    TokenPrefix,
    is_context_overflow,
)
from gym_core.errors import ServiceError, ServiceRejected, ServiceTimeout, dropped
from gym_core.http_client import HttpClient
from gym_core.protocol import FailureKind, Message, SamplingParams, Task, ToolSchema, Turn
from gym_core.resources_api import (
    EnvDescription,
    RespondResponse,
    SeedResponse,
    ToolOutput,
    VerifyResponse,
)
from gym_core.service import field_errors

__all__ = ["ContextFull", "EpisodeFailure", "PolicyClient", "ResourcesClient", "wire_messages"]

_MESSAGES = TypeAdapter(list[Message])
_TOOLS = TypeAdapter(list[ToolSchema])
_TURNS = TypeAdapter(list[Turn])


def wire_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Messages as engines expect them, unset fields left out (one call for the whole list)."""
    return _MESSAGES.dump_python(messages, exclude_none=True)  # type: ignore[no-any-return]


class EpisodeFailure(Exception):
    """Ends an episode as `status: failed` with this kind and message."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind: FailureKind = kind
        self.message = message


class ContextFull(Exception):
    """The conversation outgrew the policy's context window: the episode is truncated."""


class PolicyClient:
    """Calls the policy server's `/v1/chat/completions` for one turn.

    A turn may take `timeout_s`, not counting the time the policy spends paused (a trainer
    swapping weights): a weight sync of several minutes times out no rollout.
    """

    def __init__(
        self,
        http: HttpClient,
        base_url: str,
        model: str,
        timeout_s: float,
        control: PolicyControl,
    ) -> None:
        self.http = http
        self.url = f"{base_url.rstrip('/')}/v1/chat/completions"
        self.model = model
        self.timeout_s = timeout_s
        self.control = control

    async def complete(
        self,
        messages: list[Message],
        tools: list[ToolSchema],
        sampling: SamplingParams,
        episode_id: str,
        prefix: TokenPrefix | None = None,
    ) -> tuple[Message, Turn]:
        """One turn; with `prefix`, asked to continue the episode's token ids."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": wire_messages(messages),
            **sampling.model_dump(exclude_none=True),
        }
        if prefix is not None:
            body[PREFIX_FIELD] = prefix.model_dump()
        if tools:
            body["tools"] = _TOOLS.dump_python(tools, exclude_none=True)
        call = self.http.request_bytes(
            "POST", self.url, body, timeout_s=None, headers={SESSION_HEADER: episode_id}
        )
        try:
            answer = await self._unpaused_timeout(asyncio.ensure_future(call))
        except ServiceTimeout as error:
            raise EpisodeFailure("policy_timeout", str(error)) from None
        except ServiceRejected as error:
            if is_context_overflow(str(error)):
                raise ContextFull(str(error)) from None
            raise EpisodeFailure("policy_error", str(error)) from None
        except ServiceError as error:
            raise EpisodeFailure("policy_error", str(error)) from None
        try:
            completion = ChatCompletion.model_validate_json(answer)
        except ValidationError as error:
            raise EpisodeFailure(
                "policy_error", f"the policy's answer is not a chat completion: {error}"
            ) from None
        if not completion.choices:
            raise EpisodeFailure("policy_error", "the policy answered with no choices")
        message, turn = completion.turn()
        self.control.saw_version(turn.policy_version)
        return message, turn

    async def _unpaused_timeout(self, call: asyncio.Future[bytes]) -> bytes:
        """`call`'s answer, given `timeout_s` plus however long the policy was paused meanwhile."""
        started = time.monotonic()
        paused_before = await self.control.paused_total_s()
        try:
            while True:
                budget = self.timeout_s + await self._paused_since(paused_before, started)
                left = started + budget - time.monotonic()
                if left <= 0:
                    raise ServiceTimeout(self.url, f"no answer within {self.timeout_s:g}s")
                done, _ = await asyncio.wait({call}, timeout=left)
                if done:
                    return call.result()
        finally:
            call.cancel()

    async def _paused_since(self, paused_before: float, started: float) -> float:
        if time.monotonic() - started < self.timeout_s:
            return 0.0  # the first wait needs no reading
        return max(0.0, await self.control.paused_total_s() - paused_before)


class ResourcesClient:
    """Calls one environment's resources server."""

    def __init__(self, http: HttpClient, base_url: str, timeout_s: float) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._description: EnvDescription | None = None
        self._describing: asyncio.Future[bytes] | None = None

    async def describe(self) -> EnvDescription:
        """The environment's tools and whether its episodes need a session: asked once, then
        remembered. Episodes that start together share one question; one that fails is
        asked again by the next episode."""
        if self._description is None:
            if self._describing is None or _failed(self._describing):
                self._describing = asyncio.ensure_future(self._call("env_error", "GET", "/env"))
            answer = await asyncio.shield(self._describing)  # not cancelled with one episode
            self._description = EnvDescription.model_validate_json(answer)
        return self._description

    async def seed(self, task: Task) -> SeedResponse:
        try:
            answer = await self._sent_twice_if_dropped("POST", "/sessions", _task_body(task))
        except ServiceRejected as error:
            raise EpisodeFailure("bad_task", _rejection(error)) from None
        except ServiceError as error:
            raise EpisodeFailure("env_error", f"cannot open a session: {error}") from None
        return SeedResponse.model_validate_json(answer)

    async def call_tool(self, session_id: str, name: str, arguments: dict[str, Any]) -> ToolOutput:
        """Run a tool. Arguments the tool rejects come back as an error output for the model."""
        try:
            answer = await self.http.post(
                f"{self.base_url}/sessions/{session_id}/tools/{name}",
                arguments,
                timeout_s=self.timeout_s,
            )
        except ServiceRejected as error:
            if error.status == 422:
                return ToolOutput(
                    output=f"invalid arguments for {name}: {_rejection(error)}", is_error=True
                )
            raise EpisodeFailure("tool_error", f"tool {name}: {_rejection(error)}") from None
        except ServiceError as error:
            raise EpisodeFailure(_kind(error, "tool_error"), f"tool {name}: {error}") from None
        return ToolOutput.model_validate(answer)

    async def respond(self, session_id: str, messages: list[Message]) -> RespondResponse:
        answer = await self._call(
            "env_error",
            "POST",
            f"/sessions/{session_id}/respond",
            {"messages": wire_messages(messages)},
        )
        return RespondResponse.model_validate_json(answer)

    async def verify(
        self, session_id: str, messages: list[Message], turns: list[Turn]
    ) -> VerifyResponse:
        body = {**_trajectory_body(messages, turns), "close": True}
        try:
            answer = await self._sent_twice_if_dropped(
                "POST", f"/sessions/{session_id}/verify", body
            )
        except ServiceError as error:
            raise EpisodeFailure(_kind(error, "verify_error"), str(error)) from None
        return VerifyResponse.model_validate_json(answer)

    async def verify_task(
        self, task: Task, messages: list[Message], turns: list[Turn]
    ) -> VerifyResponse:
        """Seed and verify a whole episode in one call, no session (a single-turn
        environment). A task the environment refuses fails as `bad_task`, as at `seed`."""
        body = {**_task_body(task), **_trajectory_body(messages, turns)}
        try:
            answer = await self._sent_twice_if_dropped("POST", "/verify", body)
        except ServiceRejected as error:
            raise EpisodeFailure("bad_task", _rejection(error)) from None
        except ServiceError as error:
            raise EpisodeFailure(_kind(error, "verify_error"), str(error)) from None
        return VerifyResponse.model_validate_json(answer)

    async def close(self, session_id: str) -> None:
        await self.http.delete(f"{self.base_url}/sessions/{session_id}", timeout_s=self.timeout_s)

    async def _call(self, kind: FailureKind, method: str, path: str, body: Any = None) -> bytes:
        try:
            return await self.http.request_bytes(
                method, f"{self.base_url}{path}", body, timeout_s=self.timeout_s
            )
        except ServiceError as error:
            raise EpisodeFailure(_kind(error, kind), str(error)) from None

    async def _sent_twice_if_dropped(self, method: str, path: str, body: Any) -> bytes:
        """For calls that are safe to repeat: once more when the first was dropped."""
        url = f"{self.base_url}{path}"
        try:
            return await self.http.request_bytes(method, url, body, timeout_s=self.timeout_s)
        except ServiceError as error:
            if not dropped(error):
                raise
        return await self.http.request_bytes(method, url, body, timeout_s=self.timeout_s)


def _failed(future: asyncio.Future[Any]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


def _task_body(task: Task) -> dict[str, Any]:
    return {"task": task.model_dump(mode="json", exclude_none=True)}


def _trajectory_body(messages: list[Message], turns: list[Turn]) -> dict[str, Any]:
    return {
        "messages": wire_messages(messages),
        # The prompt ids would grow with the square of the episode's length; a verifier
        # judges what the policy produced.
        "turns": _TURNS.dump_python(turns, exclude={"__all__": {"prompt_token_ids"}}),
    }


def _kind(error: ServiceError, otherwise: FailureKind) -> FailureKind:
    return "replica_lost" if dropped(error) else otherwise


def _rejection(error: ServiceRejected) -> str:
    """The server's reason, field by field when it is a validation error."""
    if isinstance(error.detail, list):
        return field_errors(error.detail)
    return str(error.detail)
