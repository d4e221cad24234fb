"""The base class every environment's resources server extends.

An environment is a subclass with a task model, optional tools, and a verifier:

    class MathTask(TaskFields):
        answer: str

    class MathServer(ResourcesServer[MathTask, None]):
        task_model = MathTask

        async def verify(self, task, trajectory, state):
            return float(trajectory.final_text.endswith(task.answer))

Sessions, expiry, the HTTP routes, `/healthz`, `/metrics`, error mapping and the CPU worker
pool are the base's job (see `resources_server.app`), so an environment stays one screen long.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from gym_core.protocol import Message, ToolSchema, Turn
from resources_server.cpu_pool import CpuPool
from resources_server.tools import ToolSpec, is_tool, tool_spec

__all__ = [
    "NoSettings",
    "ResourcesServer",
    "TaskFields",
    "ToolError",
    "Trajectory",
    "Verdict",
    "VerifyTimeout",
]


class TaskFields(BaseModel):
    """Base of an environment's task model: declare the fields its verifier needs.

    It is validated from the whole task row; protocol fields (`id`, `prompt`, ...) are there
    to declare if the environment needs them, and unknown keys are ignored.
    """

    model_config = ConfigDict(extra="ignore")

    id: str


class NoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VerifyTimeout(Exception):
    """Raise from `verify` when judging could not finish in time for reasons that are not the
    answer's (a wall-clock backstop on a busy machine): the rollout fails as `verify_timeout`
    instead of scoring a wrong answer."""


class ToolError(Exception):
    """Raise from a tool to tell the model what it did wrong (e.g. "no event with id 7").

    The message goes back to the model as the tool's output; the episode goes on.
    """


class Verdict(BaseModel):
    """What `verify` returns: the reward and what else a trainer may want to log."""

    reward: float
    components: dict[str, float] | None = None
    """Named parts of the reward, e.g. {"format": 1.0, "correct": 0.0}."""
    metrics: dict[str, JsonValue] = Field(default_factory=dict)


class Trajectory(BaseModel):
    """The finished episode as the verifier sees it."""

    messages: list[Message]
    turns: list[Turn] = Field(default_factory=list)
    """The policy's turns: completion ids, logprobs, finish reasons (prompt ids left out)."""

    @property
    def final_text(self) -> str:
        """The text of the last assistant message, or "" when there is none."""
        for message in reversed(self.messages):
            if message.role == "assistant":
                return message.content or ""
        return ""


TaskT = TypeVar("TaskT", bound=TaskFields)
StateT = TypeVar("StateT")


class ResourcesServer(Generic[TaskT, StateT]):
    """An environment: seed a session from a task, serve tools, verify the trajectory.

    Set in ALL subclasses: `task_model`.
    Set in SOME subclasses: `settings_model` (the environment's settings from `rl_hub.yaml`),
    `cpu_preload` (modules the CPU workers import once, at start).
    Override: `verify`; `seed` when the episode has state; `respond` when the environment
    speaks after the assistant (a user's next request, a game's next observation).
    An environment with neither tools nor `respond` is single-turn: the agent verifies each
    episode in one call that seeds and verifies, after the policy's answer (`needs_session`).
    Every override and every `@tool` is `async def`; CPU-heavy work goes through `run_cpu`.
    """

    task_model: ClassVar[type[TaskFields]] = TaskFields
    settings_model: ClassVar[type[BaseModel]] = NoSettings
    cpu_preload: ClassVar[tuple[str, ...]] = ()

    _tool_specs: ClassVar[dict[str, ToolSpec]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("seed", "verify", "respond", "startup", "shutdown"):
            method = getattr(cls, name)
            if not inspect.iscoroutinefunction(method):
                raise TypeError(f"{cls.__name__}.{name} must be `async def`")
        cls._tool_specs = {
            name: tool_spec(member) for name, member in inspect.getmembers(cls) if is_tool(member)
        }

    def __init__(self, settings: BaseModel, cpu: CpuPool) -> None:
        self.settings = settings
        self._cpu = cpu

    @classmethod
    def tool_schemas(cls) -> list[ToolSchema]:
        return [spec.schema for spec in cls._tool_specs.values()]

    @classmethod
    def tool_specs(cls) -> dict[str, ToolSpec]:
        return cls._tool_specs

    @classmethod
    def interactive(cls) -> bool:
        """True when the environment supplies turns after the assistant's (`respond`)."""
        return cls.respond is not ResourcesServer.respond

    @classmethod
    def needs_session(cls) -> bool:
        """True when an episode keeps state between calls: the environment has tools or
        speaks after the assistant. Without either, `seed` and `verify` run in one request
        and no session is opened (override to return True if `seed` must run before the
        policy's first turn)."""
        return bool(cls._tool_specs) or cls.interactive()

    async def startup(self) -> None:
        """Called once before the first request (load data, open clients)."""

    async def shutdown(self) -> None:
        """Called once at shutdown."""

    async def seed(self, task: TaskT) -> StateT:
        """The state of a new episode of `task` (None for stateless environments)."""
        return None  # type: ignore[return-value]

    async def respond(
        self, task: TaskT, state: StateT, trajectory: Trajectory
    ) -> list[Message] | str | None:
        """The environment's next turn after the assistant's latest message, or None to end.

        The agent calls it after every assistant message without tool calls. A string is sent
        as one user message. `state` is the session's, so an environment can keep per-turn
        results there and report them from `verify` (see environments/calendar/README.md).
        """
        return None

    async def verify(self, task: TaskT, trajectory: Trajectory, state: StateT) -> Verdict | float:
        """The reward of a finished episode. Raise only when verification itself breaks."""
        raise NotImplementedError(f"{type(self).__name__} must implement verify")

    async def run_cpu(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` (a module-level function) in a worker process, under the
        verification CPU budget. Raises `CpuTimeExceeded` when the budget is spent."""
        return await self._cpu.run(fn, *args)
