"""The typed settings of each kind of service.

They live in the shared kernel so that `gym serve` can check every setting before it starts
anything, and each service validates the same model again when it starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from gym_core.errors import ConfigError, format_validation_error
from gym_core.protocol import SamplingParams
from gym_core.redaction import redact_url

__all__ = [
    "AgentServerOptions",
    "AgentServerSettings",
    "AgentSettings",
    "EnvRoute",
    "PolicyServerSettings",
    "ReplicaSettings",
    "ResourcesOptions",
    "ResourcesServerSettings",
    "RestartPolicy",
    "SessionShards",
    "Token",
    "parse_settings",
]

DEFAULT_SESSION_TTL_S = 600.0
DEFAULT_VERIFY_CPU_LIMIT_S = 10.0
DEFAULT_POLICY_TIMEOUT_S = 600.0
DEFAULT_RESOURCES_TIMEOUT_S = 120.0
DEFAULT_AGENT_CONCURRENCY = 256
DEFAULT_AGENT_QUEUE = 4096
DEFAULT_MAX_BATCH_SAMPLES = 4096
DEFAULT_REPLICA_CONCURRENCY = 64
DEFAULT_STICKY_TTL_S = 600.0
DEFAULT_EMBEDDED_CONTEXT = 4096
DEFAULT_TARGET_ONGOING_REQUESTS = 32.0
DEFAULT_MAX_ONGOING_REQUESTS = 1024
DEFAULT_RESTART_BACKOFF_S = 0.5
DEFAULT_MAX_RESTART_BACKOFF_S = 10.0
DEFAULT_FAST_FAILURE_S = 30.0
DEFAULT_MAX_FAST_FAILURES = 5


SettingsT = TypeVar("SettingsT", bound=BaseModel)


def parse_settings(model: type[SettingsT], data: Any, source: str) -> SettingsT:
    """`data` checked against `model`; a `ConfigError` naming `source` and each bad key."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(format_validation_error(source, error)) from None


def default_cpu_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class Settings(BaseModel):
    """Base of every settings model: a misspelt key is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


PositiveFloat = Annotated[float, Field(gt=0)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Token = Annotated[str, Field(min_length=8, pattern=r"^\S+$")]
"""A bearer token: at least 8 characters, no whitespace (a blank token would guard nothing)."""


class AgentSettings(Settings):
    """How the agent server runs episodes of one environment."""

    name: Literal["tool_loop"] = "tool_loop"
    """The episode loop: `tool_loop` calls the policy, runs its tool calls, asks the
    environment for the next user turn when it has one, and repeats."""
    max_turns: PositiveInt = 8
    """Policy calls per episode; reaching it ends the episode as `truncated`."""
    run_tool_calls: bool = True
    """False when a tool call is the model's answer, not an action (structured output through
    a tool): a turn with tool calls then ends the episode as `completed`, the calls not run."""
    sampling: SamplingParams = Field(default_factory=SamplingParams)
    """Default sampling for this environment; tasks and requests override it."""


class EnvRoute(Settings):
    """Where the agent server finds one environment's resources server."""

    url: str
    agent: AgentSettings = Field(default_factory=AgentSettings)


class AgentServerOptions(Settings):
    """The agent server's settings a user may set (section `agent_server`)."""

    max_concurrency: PositiveInt = DEFAULT_AGENT_CONCURRENCY
    """Episodes running at once on this server; more queue."""
    max_queue: Annotated[int, Field(ge=0)] = DEFAULT_AGENT_QUEUE
    """Episodes waiting for a slot; a request that would overfill the queue is answered 503
    with `Retry-After` (the rollout client waits and asks again)."""
    max_batch_samples: PositiveInt = DEFAULT_MAX_BATCH_SAMPLES
    """Samples (tasks x samples_per_task) one `/v1/rollouts` request may ask for; more is 413.
    At most `max_concurrency + max_queue`, so that a batch of this size can be taken."""
    policy_timeout_s: PositiveFloat = DEFAULT_POLICY_TIMEOUT_S
    resources_timeout_s: PositiveFloat = DEFAULT_RESOURCES_TIMEOUT_S

    @model_validator(mode="after")
    def _batch_fits(self) -> AgentServerOptions:
        capacity = self.max_concurrency + self.max_queue
        if self.max_batch_samples > capacity:
            raise ValueError(
                f"max_batch_samples ({self.max_batch_samples}) cannot exceed max_concurrency + "
                f"max_queue ({capacity}): such a batch could never be taken"
            )
        return self


class AgentServerSettings(AgentServerOptions):
    name: str = "agent"
    envs: dict[str, EnvRoute]
    policy_url: str
    """Base URL of the policy server (OpenAI-compatible, `/v1/chat/completions`)."""
    policy_model: str = "policy"
    token: Token | None = None
    """Bearer token this server requires and sends to the services it calls."""


class PolicyServerSettings(Settings):
    """The policy server's settings (section `policy`)."""

    name: str = "policy"
    engine_urls: list[str] = Field(default_factory=list)
    """OpenAI-compatible engines (vLLM, SGLang, llama.cpp, OpenAI), one per replica; empty
    runs the embedded CPU model."""
    model: str | None = None
    """Model name to ask the engines for, or a GGUF file for the embedded model."""
    engine: Literal["auto", "vllm", "sglang", "llamacpp", "openai", "embedded"] = "auto"
    """Which engine the URLs are; `auto` asks each one's `/v1/models`."""
    chat_template: str | None = None
    """SGLang only: the model's `tokenizer_config.json` or `.jinja` chat template, so that
    exact token ids come from SGLang's native `/generate`."""
    api_key: str | None = None
    """Sent to the engines as a bearer token (e.g. an OpenAI key)."""
    request_timeout_s: PositiveFloat = DEFAULT_POLICY_TIMEOUT_S
    """One generation's bound; a request that runs out of it is not retried."""
    max_concurrency_per_replica: PositiveInt = DEFAULT_REPLICA_CONCURRENCY
    """Requests one replica takes at once; more wait for a slot."""
    sticky_ttl_s: PositiveFloat = DEFAULT_STICKY_TTL_S
    """How long an episode's turns keep going to the same replica after its last turn."""
    embedded_context: PositiveInt = DEFAULT_EMBEDDED_CONTEXT
    """Context length (tokens) of the embedded model."""
    embedded_threads: PositiveInt | None = None
    """CPU threads of the embedded model (default: every core)."""
    token: Token | None = None
    """Bearer token every route but `/healthz` requires."""
    lock_admin: bool = False
    """The admin routes that change the policy (version, pause, resume) answer 403 unless a
    token is set (and then, like every route, need it)."""
    state_file: Path | None = None
    """Where the policy version and pause are kept, so a restarted gateway takes them over
    (`gym serve` gives each stack one)."""

    @field_validator("engine_urls", mode="after")
    @classmethod
    def _base_urls(cls, urls: list[str]) -> list[str]:
        return [engine_base_url(url) for url in urls]


def engine_base_url(url: str) -> str:
    """An engine's base URL as RL Gym joins paths to it: `http://host:8000/v1` (the OpenAI
    client's `base_url` habit) and `http://host:8000/` both mean `http://host:8000`."""
    base = url.strip().rstrip("/")
    base = base.removesuffix("/v1").rstrip("/")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"expected an http(s) URL such as http://host:8000, got {redact_url(url)!r}"
        )
    if parts.path.endswith("/completions"):
        raise ValueError(
            f"expected the engine's base URL (http://host:8000 or http://host:8000/v1), not one "
            f"of its endpoints: got {redact_url(url)!r}"
        )
    return base


class ResourcesOptions(Settings):
    """Settings every resources server shares (section `resources`)."""

    session_ttl_s: PositiveFloat = DEFAULT_SESSION_TTL_S
    """Sessions untouched this long are dropped, so abandoned episodes never leak."""
    cpu_workers: PositiveInt = Field(default_factory=default_cpu_workers)
    """Worker processes for CPU-heavy verification."""
    verify_cpu_limit_s: PositiveFloat = DEFAULT_VERIFY_CPU_LIMIT_S
    """CPU seconds (not wall-clock) one verification may use."""


class SessionShards(Settings):
    """The Ray actors that hold an environment's sessions for all of its replicas."""

    namespace: str
    names: Annotated[list[str], Field(min_length=1)]
    """One actor per shard; a session lives in the shard its id hashes to."""


class ResourcesServerSettings(ResourcesOptions):
    name: str
    """The environment's name."""
    server: str
    """Import string of the environment's `ResourcesServer` subclass (`module:Class`)."""
    env_settings: dict[str, Any] = Field(default_factory=dict)
    """The environment's own settings, checked by its `settings_model`."""
    token: Token | None = None
    session_shards: SessionShards | None = None
    """Set by the cluster launcher: keep sessions in these shared actors, so that every
    replica reaches every session. None keeps them in this process."""


class ReplicaSettings(Settings):
    """How one service runs on a cluster (`gym serve --cluster`): its replicas and their size.

    The local launcher ignores it.
    """

    replicas: PositiveInt = 1
    """Replicas at start; a fixed count unless `max_replicas` is set."""
    num_cpus: NonNegativeFloat = 1.0
    """CPUs Ray reserves for each replica. A resources server's replica starts that many CPU
    workers (at least one), so its verification and sandboxed runs use the CPUs reserved for
    it on its node."""
    min_replicas: Annotated[int, Field(ge=0)] | None = None
    """With `max_replicas`: the fewest replicas autoscaling keeps (default: `replicas`)."""
    max_replicas: PositiveInt | None = None
    """Autoscale between `min_replicas` and this, on the requests replicas have in flight."""
    target_ongoing_requests: PositiveFloat = DEFAULT_TARGET_ONGOING_REQUESTS
    """Autoscaling adds replicas when they have more requests than this in flight each."""
    max_ongoing_requests: PositiveInt = DEFAULT_MAX_ONGOING_REQUESTS
    """Requests one replica takes at once; more wait in the proxy."""

    @model_validator(mode="after")
    def _bounds(self) -> ReplicaSettings:
        if self.target_ongoing_requests > self.max_ongoing_requests:
            raise ValueError(
                f"target_ongoing_requests ({self.target_ongoing_requests:g}) cannot exceed "
                f"max_ongoing_requests ({self.max_ongoing_requests})"
            )
        if self.max_replicas is None:
            if self.min_replicas is not None:
                raise ValueError("min_replicas needs max_replicas (the autoscaling bounds)")
            return self
        low = self.replicas if self.min_replicas is None else self.min_replicas
        if not low <= self.replicas <= self.max_replicas:
            raise ValueError(
                f"expected min_replicas <= replicas <= max_replicas, got "
                f"{low} <= {self.replicas} <= {self.max_replicas}"
            )
        return self

    @property
    def cpu_workers(self) -> int:
        """CPU workers of a resources server replica: one per CPU reserved, at least one."""
        return max(1, int(self.num_cpus))


class RestartPolicy(Settings):
    """How `gym serve` restarts a service that dies (section `serve.restart`; the local
    launcher only: on a cluster, Ray Serve replaces replicas itself)."""

    enabled: bool = True
    """False: a service that dies stops every other service, and `gym serve` exits."""
    backoff_s: PositiveFloat = DEFAULT_RESTART_BACKOFF_S
    """Wait before restarting; it doubles with each fast failure in a row."""
    max_backoff_s: PositiveFloat = DEFAULT_MAX_RESTART_BACKOFF_S
    """The longest wait between two restarts."""
    fast_failure_s: PositiveFloat = DEFAULT_FAST_FAILURE_S
    """A service that dies within this long of (re)starting failed fast."""
    max_fast_failures: PositiveInt = DEFAULT_MAX_FAST_FAILURES
    """Give up after this many fast failures in a row: the service is crash-looping, so every
    service stops and `gym serve` exits with a message naming it."""
