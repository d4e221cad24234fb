"""The default agent, `tool_loop`: one episode from task to verified trajectory.

    open a session -> [ call the policy -> run its tool calls | take the environment's next
    turn ] until a final answer, `max_turns`, or the token limit -> verify -> close

An environment with no tools and no turns of its own needs no session (the resources server
says so once, `GET /env`): the policy answers, then one call seeds and verifies the episode.

A final assistant message with nothing more from the environment ends the episode as
`completed`, and so does any message with tool calls when the environment's
`agent.run_tool_calls` is false (the call is the answer); `max_turns` or
`finish_reason: length` end it as `truncated` (still verified).
Mistakes the model makes with tools (unknown tool, arguments that are not JSON or do not fit
the schema, a tool that raises) go back to the model as tool messages. Anything else that
breaks ends the episode as `failed`, with the kind of failure, and is never scored.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

import orjson
from pydantic import JsonValue

from agent_server.clients import ContextFull, EpisodeFailure, PolicyClient, ResourcesClient
from gym_core.chat_api import TokenPrefix
from gym_core.errors import ServiceError
from gym_core.protocol import (
    Failure,
    Message,
    RolloutResult,
    RolloutStatus,
    SamplingParams,
    Task,
    Timing,
    ToolCall,
    ToolSchema,
    Turn,
)
from gym_core.resources_api import EnvDescription, SeedResponse, VerifyResponse
from gym_core.token_view import build_token_view

__all__ = ["Episode", "Stage", "StageObserver"]

Stage = Literal["policy", "tool", "verify", "env_turn"]
StageObserver = Callable[[Stage, float], None]
"""Told the seconds of each call of a stage as the episode makes it (the server's metrics)."""


def _ignore_stage(stage: Stage, seconds: float) -> None:
    pass


@dataclass
class Episode:
    """One sample of one task, and everything it accumulates while it runs."""

    task: Task
    sample_index: int
    group_id: str
    episode_id: str
    max_turns: int
    sampling: SamplingParams
    policy: PolicyClient
    resources: ResourcesClient
    max_staleness: int | None = None
    run_tool_calls: bool = True
    """False: a turn with tool calls is the final answer, and its calls are not run."""
    observe_stage: StageObserver = _ignore_stage
    messages: list[Message] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    timing: Timing = field(default_factory=Timing)
    tool_calls: int = 0
    tool_errors: int = 0
    started: float | None = None
    truncated_by: str | None = None
    """Why a truncated episode stopped: `max_turns`, `length` (the turn's token limit) or
    `context` (the conversation outgrew the policy's context window)."""

    def __post_init__(self) -> None:
        self.messages = self.task.messages()

    messages_in_ids: int = 0
    """How many messages the last turn's prompt and completion ids hold."""

    async def run(self) -> RolloutResult:
        self.started = time.perf_counter()
        try:
            env = await self.resources.describe()
            tools = self.task.tools or env.tools
            if self._needs_session(env):
                status, verdict = await self._in_session(tools)
            else:
                status = await self._loop(None, tools)
                verdict = await self._timed_verify(
                    self.resources.verify_task(self.task, self.messages, self.turns)
                )
            if verdict.failure is not None:
                return self.failed(verdict.failure)
            return self._result(
                status,
                reward=verdict.reward,
                reward_components=verdict.reward_components,
                metrics=verdict.metrics,
            )
        except EpisodeFailure as error:
            return self.failed(Failure(kind=error.kind, message=error.message))

    def _needs_session(self, env: EnvDescription) -> bool:
        """A session, unless the environment keeps no state and no tool call of the task's
        own tools is to be run (which only a session can answer)."""
        return env.needs_session or bool(self.task.tools and self.run_tool_calls)

    async def _in_session(self, tools: list[ToolSchema]) -> tuple[RolloutStatus, VerifyResponse]:
        """The episode in a session: opened first, closed by verifying (or here, when the
        episode ends otherwise)."""
        seeded = await self.resources.seed(self.task)
        session_id: str | None = seeded.session_id
        try:
            status = await self._loop(seeded, tools)
            verdict = await self._timed_verify(
                self.resources.verify(seeded.session_id, self.messages, self.turns)
            )
            session_id = None  # verify closed it
            return status, verdict
        finally:
            if session_id is not None:
                with contextlib.suppress(ServiceError):
                    await self.resources.close(session_id)

    async def _timed_verify(self, call: Awaitable[VerifyResponse]) -> VerifyResponse:
        started = time.perf_counter()
        verdict = await call
        self.timing.verify_s = self._since("verify", started)
        return verdict

    async def _loop(self, session: SeedResponse | None, tools: list[ToolSchema]) -> RolloutStatus:
        """The turns of the episode; `session` is None when it needs none (no call reaches
        the resources server then)."""
        session_id = session.session_id if session else None
        tool_names = {tool.function.name for tool in tools}
        for _ in range(self.max_turns):
            self._check_fresh(self.policy.control.version)
            policy_started = time.perf_counter()
            try:
                message, turn = await self.policy.complete(
                    self.messages, tools, self.sampling, self.episode_id, self._token_prefix()
                )
            except ContextFull:
                self.truncated_by = "context"
                return "truncated"
            finally:
                self.timing.policy_s += self._since("policy", policy_started)
            self.messages.append(message)
            self.turns.append(turn)
            self.messages_in_ids = len(self.messages)
            self._check_fresh(turn.policy_version)
            if turn.finish_reason == "length":
                self.truncated_by = "length"
                return "truncated"
            if message.tool_calls and not self.run_tool_calls:
                return "completed"
            if message.tool_calls:
                for call in message.tool_calls:
                    self.messages.append(await self._run_tool(session_id, call, tool_names))
                continue
            if session is not None and session.interactive:
                env_started = time.perf_counter()
                reply = await self.resources.respond(session.session_id, self.messages)
                self.timing.env_s += self._since("env_turn", env_started)
                if not reply.done:
                    self.messages.extend(reply.messages)
                    continue
            return "completed"
        self.truncated_by = "max_turns"
        return "truncated"

    def _since(self, stage: Stage, started: float) -> float:
        """Seconds since `started`, told to `observe_stage` as one call of `stage`."""
        seconds = time.perf_counter() - started
        self.observe_stage(stage, seconds)
        return seconds

    def _check_fresh(self, version: int) -> None:
        """End the episode as `stale` when a turn at `version` would be more than
        `max_staleness` versions after its oldest turn."""
        if self.max_staleness is None or not self.turns:
            return
        oldest = min(turn.policy_version for turn in self.turns)
        if version - oldest > self.max_staleness:
            raise EpisodeFailure(
                "stale",
                f"the policy is at version {version}, more than max_staleness="
                f"{self.max_staleness} versions after this episode's first turn ({oldest})",
            )

    def _token_prefix(self) -> TokenPrefix | None:
        """What the next prompt continues: the last turn's prompt and completion ids, which
        hold the messages up to its assistant message. None once a turn came without ids."""
        if not self.turns:
            return TokenPrefix()
        last = self.turns[-1]
        if last.prompt_token_ids is None or last.completion_token_ids is None:
            return None
        return TokenPrefix(
            token_ids=last.prompt_token_ids + last.completion_token_ids,
            messages=self.messages_in_ids,
        )

    async def _run_tool(
        self, session_id: str | None, call: ToolCall, tool_names: set[str]
    ) -> Message:
        self.tool_calls += 1
        name = call.function.name
        output, is_error = await self._tool_output(session_id, call, tool_names)
        self.tool_errors += is_error
        return Message(role="tool", tool_call_id=call.id, name=name, content=output)

    async def _tool_output(
        self, session_id: str | None, call: ToolCall, tool_names: set[str]
    ) -> tuple[str, bool]:
        name = call.function.name
        if name not in tool_names or session_id is None:  # no session: there are no tools
            available = ", ".join(sorted(tool_names)) or "none"
            return f"error: there is no tool {name!r}; the tools are: {available}", True
        try:
            arguments = orjson.loads(call.function.arguments or "{}")
        except orjson.JSONDecodeError as error:
            return f"error: the arguments of {name} are not valid JSON ({error})", True
        if not isinstance(arguments, dict):
            return f"error: the arguments of {name} must be a JSON object", True
        started = time.perf_counter()
        result = await self.resources.call_tool(session_id, name, arguments)
        self.timing.tools_s += self._since("tool", started)
        return result.output, result.is_error

    def failed(self, failure: Failure) -> RolloutResult:
        """The result of this episode ended by `failure`, with the trajectory it has so far."""
        return self._result("failed", failure=failure)

    def _result(
        self,
        status: RolloutStatus,
        *,
        reward: float | None = None,
        reward_components: dict[str, float] | None = None,
        metrics: dict[str, JsonValue] | None = None,
        failure: Failure | None = None,
    ) -> RolloutResult:
        if self.started is not None:
            self.timing.total_s = time.perf_counter() - self.started
        prefix = build_token_view(self.turns)
        versions = [turn.policy_version for turn in self.turns]
        return RolloutResult(
            task_id=self.task.id,
            env=self.task.env,
            group_id=self.group_id,
            sample_index=self.sample_index,
            messages=self.messages,
            turns=prefix.turns,
            reward=reward,
            reward_components=reward_components,
            metrics={
                **(metrics or {}),
                "num_turns": len(self.turns),
                "num_tool_calls": self.tool_calls,
                "num_tool_errors": self.tool_errors,
                **({"truncated_by": self.truncated_by} if status == "truncated" else {}),
            },
            status=status,
            failure=failure,
            token_view=prefix.view,
            prefix_consistent=prefix.consistent,
            prefix_break_turn=prefix.break_turn,
            policy_version_min=min(versions, default=None),
            policy_version_max=max(versions, default=None),
            seed=self.sampling.seed,
            timing=self.timing,
        )
