"""The HTTP API of a resources server, shared by the server and the agent that calls it.

    GET    /env                         -> EnvDescription
    GET    /tools                       -> ToolsResponse
    POST   /verify                      VerifyTaskRequest -> VerifyResponse
    POST   /sessions                    SeedRequest -> SeedResponse
    POST   /sessions/{id}/tools/{name}  {arguments}  -> ToolOutput
    POST   /sessions/{id}/respond       RespondRequest -> RespondResponse
    POST   /sessions/{id}/verify        VerifyRequest -> VerifyResponse
    DELETE /sessions/{id}

A session holds one episode's state and is reachable only by its id. It ends when verified
with `close`, when deleted, or when untouched for the server's idle timeout.

An environment without tools and without turns of its own (`respond`) keeps nothing between
calls, so its episodes need no session: `POST /verify` seeds and verifies in one call (two hops
a rollout: the policy, then this). `GET /env` says which kind an environment is; the agent asks
once.
"""

from __future__ import annotations

from pydantic import Field, JsonValue

from gym_core.protocol import Failure, Message, Model, Task, ToolSchema, Turn


class ToolsResponse(Model):
    tools: list[ToolSchema]


class EnvDescription(Model):
    tools: list[ToolSchema]
    interactive: bool
    """True when the environment supplies turns (`/respond`) after the assistant's."""
    needs_session: bool
    """False when an episode keeps nothing between calls (no tools, not interactive): it is
    verified with `POST /verify`, no session opened or closed."""


class SeedRequest(Model):
    task: Task


class SeedResponse(Model):
    session_id: str
    interactive: bool = False
    """True when the environment supplies user turns (`/respond`) after the assistant's."""


class ToolOutput(Model):
    output: str
    is_error: bool = False
    """True when the tool refused or raised; `output` then tells the model what went wrong."""


class RespondRequest(Model):
    messages: list[Message]
    """The conversation so far, ending with the assistant's latest message."""


class RespondResponse(Model):
    messages: list[Message]
    """The environment's next turn (usually one user message); empty when it is done."""

    @property
    def done(self) -> bool:
        return not self.messages


class VerifyRequest(Model):
    messages: list[Message]
    turns: list[Turn] = Field(default_factory=list)
    close: bool = True
    """End the session once verified (saves a round trip)."""


class VerifyTaskRequest(Model):
    """A whole episode of a task, to seed and verify in one call."""

    task: Task
    messages: list[Message]
    turns: list[Turn] = Field(default_factory=list)


class VerifyResponse(Model):
    reward: float | None = None
    reward_components: dict[str, float] | None = None
    metrics: dict[str, JsonValue] = Field(default_factory=dict)
    failure: Failure | None = None
    """Set when verification itself failed (`verify_error`, `verify_timeout`); the reward is
    then absent, never a silent 0."""
