"""The wire protocol every RL Gym service and trainer speaks.

A `Task` goes in; a `RolloutResult` comes out. Everything a trainer needs to learn from one
episode (the conversation, the token ids and logprobs of every policy turn, the reward, and
whether the episode can be trusted) lives in that one record.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from gym_core.nemo_rows import is_nemo_row, task_fields_from_nemo_row

Role = Literal["system", "developer", "user", "assistant", "tool"]

SafeId = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_:-][A-Za-z0-9._:-]*$")
]
"""A name a trainer gives (a batch, a group): letters, digits and `._:-`, not starting with a
dot, so that it fits in a URL path (where `.` and `..` would be normalised away) and a header."""

RolloutStatus = Literal["completed", "truncated", "failed"]
"""`completed`: the episode ended as the environment intended (a final answer, or the
environment had nothing more to say). `truncated`: it was cut short by `max_turns`, by the
policy hitting its token limit, or by the conversation outgrowing the policy's context window
(`metrics.truncated_by` says which); it is still verified. `failed`: something other than the policy
broke (see `Failure`); its reward is not a judgement of the policy and must not be trained on
as one."""

FailureKind = Literal[
    "bad_task",
    "policy_error",
    "policy_timeout",
    "tool_error",
    "env_error",
    "verify_error",
    "verify_timeout",
    "sandbox_error",
    "replica_lost",
    "stale",
    "cancelled",
    "internal_error",
]
"""Which boundary a failed rollout crossed:
`bad_task` the environment refused the task (e.g. a missing verifier field);
`policy_error` the policy server failed or answered something unusable;
`policy_timeout` the policy did not answer in time;
`tool_error` the resources server failed while running a tool (not the tool's own error,
which goes back to the model);
`env_error` the resources server could not be reached or failed outside a tool;
`verify_error` the verifier raised;
`verify_timeout` verification used up its CPU-time budget;
`sandbox_error` the sandbox that runs untrusted code failed (not the code: a program that
crashes or times out is the policy's failure and is scored);
`replica_lost` the service replica that held the episode died;
`stale` its next turn would have been generated more than the request's `max_staleness`
policy versions after its first (the partial trajectory comes back);
`cancelled` the trainer cancelled its batch (`POST /v1/rollouts/{batch_id}/cancel`);
`internal_error` a bug in RL Gym itself."""

TokenIdsSource = Literal["engine", "none"]
"""`engine`: ids and logprobs are exactly what the inference engine produced.
`none`: the engine gives text only (e.g. OpenAI); no ids are invented."""

PromptMode = Literal["tokens", "messages"]
"""How a turn's prompt was built. `tokens`: from ids, by construction the previous turn's
prompt and completion ids followed by the new messages' ids (the first turn: the opening
messages rendered by the model's chat template), so the token view holds whatever the template
does to history. `messages`: the engine rendered the whole conversation from its messages
(an engine that takes no token prompts, e.g. OpenAI); the prefix then holds only if the
template renders history the same way every turn (`prefix_consistent` says whether it did)."""


class Model(BaseModel):
    """Base for protocol records: unknown keys are rejected so typos fail loudly."""

    model_config = ConfigDict(extra="forbid")


class FunctionCall(Model):
    name: str
    arguments: str = "{}"
    """JSON text as the model wrote it; it may be invalid, and the agent tells the model so."""


class ToolCall(Model):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


def _flatten_text_parts(content: Any) -> Any:
    """OpenAI allows content as a list of typed parts; RL Gym environments are text-only."""
    if not isinstance(content, list):
        return content
    texts = []
    for part in content:
        if not isinstance(part, dict) or "text" not in part:
            raise ValueError("only text content parts are supported")
        texts.append(str(part["text"]))
    return "".join(texts)


class Message(BaseModel):
    """One chat message in OpenAI format."""

    model_config = ConfigDict(extra="ignore")

    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    """On a tool message: the id of the call it answers."""
    name: str | None = None
    reasoning_content: str | None = None
    """Thinking text some engines return separately from the answer."""

    _flatten = field_validator("content", mode="before")(_flatten_text_parts)


class FunctionSchema(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})
    """A JSON schema of the arguments."""


class ToolSchema(BaseModel):
    """An OpenAI chat-completions tool: `{"type": "function", "function": {...}}`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["function"] = "function"
    function: FunctionSchema


RESERVED_REQUEST_FIELDS = frozenset(
    {
        "messages",
        "prompt",
        "tools",
        "model",
        "stream",
        "n",
        "logprobs",
        "return_token_ids",
        "rl_gym_prefix",
    }
)
"""Keys of a chat request the agent sets itself: as sampling settings they would silently
change what the engine sees while the record keeps the original conversation."""


class SamplingParams(BaseModel):
    """Sampling settings passed to the engine; unknown keys (top_k, min_p, ...) pass through."""

    model_config = ConfigDict(extra="allow")

    temperature: Annotated[float, Field(ge=0)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    stop: str | list[str] | None = None
    seed: int | None = None

    @model_validator(mode="after")
    def _no_request_fields(self) -> SamplingParams:
        taken = sorted(RESERVED_REQUEST_FIELDS & set(self.model_extra or {}))
        if taken:
            raise ValueError(
                f"{', '.join(taken)}: not a sampling setting (the agent sets it from the "
                "episode; a task's conversation goes in `prompt`, its tools in `tools`)"
            )
        return self

    def merged(self, override: SamplingParams | None) -> SamplingParams:
        """These settings with every field that `override` sets replacing ours."""
        if override is None:
            return self
        return SamplingParams.model_validate(
            {**self.model_dump(exclude_none=True), **override.model_dump(exclude_none=True)}
        )


def new_group_id() -> str:
    """A fresh id for a group of samples of one task."""
    return uuid.uuid4().hex[:16]


def content_id(row: dict[str, Any]) -> str:
    """A stable id for a row that has none: the same row always gets the same id."""
    return hashlib.sha1(orjson.dumps(row, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


class Task(BaseModel):
    """One JSONL row: what to ask the policy and what the verifier needs to judge it.

    Keys beyond the ones below belong to the environment (e.g. math's `answer`) and are
    checked by its resources server. Rows in NeMo Gym's format are converted on the way in.
    """

    model_config = ConfigDict(extra="allow")

    id: Annotated[str, Field(min_length=1)]
    """Unique within a dataset; results and resumption are keyed by it."""
    env: Annotated[str, Field(min_length=1)]
    """Name of the environment (an `rl_hub.yaml` entry) that serves this task."""
    prompt: str | Annotated[list[Message], Field(min_length=1)]
    """A user message, or the whole opening conversation (at least one message)."""
    tools: list[ToolSchema] | None = None
    """Tools offered to the model; by default the environment's own."""
    sampling: SamplingParams | None = None
    """Per-task sampling settings; a request's own settings take precedence."""

    @field_validator("id", mode="before")
    @classmethod
    def _integer_ids_are_fine(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @model_validator(mode="before")
    @classmethod
    def _accept_nemo_rows(cls, data: Any) -> Any:
        if isinstance(data, dict) and is_nemo_row(data):
            fields = task_fields_from_nemo_row(data)
            fields.setdefault("id", content_id(data))
            return fields
        return data

    def messages(self) -> list[Message]:
        if isinstance(self.prompt, str):
            return [Message(role="user", content=self.prompt)]
        return list(self.prompt)

    def env_fields(self) -> dict[str, Any]:
        """The environment's own fields (everything that is not part of the protocol)."""
        return dict(self.model_extra or {})


class Turn(Model):
    """One policy call: exactly what the engine saw and produced."""

    prompt_token_ids: list[int] | None = None
    """Token ids of the whole prompt as the engine saw it; left out (None) when
    `prompt_length` points into the result's token view instead."""
    prompt_length: int | None = None
    """Set when the result has a token view: this turn's prompt is
    `token_view.input_ids[:prompt_length]` (so a result grows linearly with its turns)."""
    prompt_mode: PromptMode = "messages"
    completion_token_ids: list[int] | None = None
    completion_logprobs: list[float] | None = None
    """Logprob of each completion token under the policy that sampled it."""
    finish_reason: str = "stop"
    """`stop`, `tool_calls`, or `length` (the token limit cut the completion)."""
    policy_version: int = 0
    """The policy version the policy server had when it generated this turn."""
    token_ids_source: TokenIdsSource = "none"
    model: str | None = None


class TokenView(Model):
    """The whole episode as one token sequence, ready for a loss."""

    input_ids: list[int]
    loss_mask: list[int]
    """1 exactly on tokens the policy generated, 0 on prompt, tool and user tokens."""
    logprobs: list[float] | None = None
    """Aligned with `input_ids`, 0.0 where `loss_mask` is 0; None when the engine gave no
    logprobs."""


class Failure(Model):
    kind: FailureKind
    message: str
    """A plain sentence saying what broke; never a traceback."""


class Timing(Model):
    total_s: float = 0.0
    policy_s: float = 0.0
    tools_s: float = 0.0
    verify_s: float = 0.0
    env_s: float = 0.0
    """The environment's own turns in a dialogue (a simulated user's replies)."""


class RolloutResult(Model):
    """The whole trajectory of one sample of one task, and its reward."""

    task_id: str
    env: str
    group_id: str
    """Shared by the samples of one task in one request (a GRPO group)."""
    sample_index: int
    messages: list[Message]
    """The whole conversation: prompt, assistant turns, tool calls and tool outputs."""
    turns: list[Turn] = Field(default_factory=list)
    reward: float | None = None
    """None only when the rollout failed before it could be verified."""
    reward_components: dict[str, float] | None = None
    metrics: dict[str, JsonValue] = Field(default_factory=dict)
    status: RolloutStatus
    failure: Failure | None = None
    """Set exactly when `status` is `failed`."""
    token_view: TokenView | None = None
    """Present when every turn's prompt extends the previous turn's tokens."""
    prefix_consistent: bool | None = None
    """False when a turn's prompt did not extend the previous turn's tokens; None when the
    engine gave no token ids."""
    prefix_break_turn: int | None = None
    """Index of the first turn whose prompt broke the prefix, when `prefix_consistent` is
    False."""
    policy_version_min: int | None = None
    """The oldest policy version any of its turns was generated with; None without turns."""
    policy_version_max: int | None = None
    """The newest policy version any of its turns was generated with; None without turns."""
    seed: int | None = None
    """The sampling seed this sample ran with: derived from the request's seed, the task and
    the sample index, so a group is reproducible and its samples differ. None without a seed."""
    timing: Timing = Field(default_factory=Timing)

    def prompt_token_ids(self, turn: int) -> list[int] | None:
        """The whole prompt of `turns[turn]`, from the turn itself or from the token view."""
        record = self.turns[turn]
        if record.prompt_token_ids is not None:
            return record.prompt_token_ids
        if record.prompt_length is not None and self.token_view is not None:
            return self.token_view.input_ids[: record.prompt_length]
        return None


class RolloutsRequest(Model):
    """Body of `POST /v1/rollouts`."""

    tasks: Annotated[list[Task], Field(min_length=1)]
    samples_per_task: Annotated[int, Field(ge=1, le=1024)] = 1
    sampling: SamplingParams | None = None
    """Overrides every task's own sampling settings."""
    stream: bool = False
    """True: NDJSON, one result per line as each finishes. False: all results at once,
    ordered by task then sample index."""
    batch_id: SafeId | None = None
    """The trainer's name for this batch, so that it can cancel it
    (`POST /v1/rollouts/{batch_id}/cancel`); unique among the batches running."""
    max_staleness: Annotated[int, Field(ge=0)] | None = None
    """Off-policy bound: an episode whose next turn would be generated more than this many
    policy versions after its first turn ends as `failed` (`stale`) with what it has."""


class RolloutRequest(Model):
    """Body of `POST /v1/rollout`: one sample of one task."""

    task: Task
    sample_index: Annotated[int, Field(ge=0)] = 0
    group_id: SafeId | None = None
    """Join an existing group (e.g. when resuming); a new one is made when absent."""
    sampling: SamplingParams | None = None


class GroupSummary(Model):
    """What one GRPO group of a batch is worth to a trainer."""

    group_id: str
    task_id: str
    samples: int
    failed: int
    """Samples that failed (no reward to learn from)."""
    reward_mean: float | None
    """Mean reward of the samples that did not fail; None when all failed."""
    has_signal: bool
    """True when the rewards of the samples that did not fail are not all equal: only then
    does a group-relative advantage (GRPO) teach anything."""


class RolloutsResponse(Model):
    results: list[RolloutResult]
    groups: list[GroupSummary] = Field(default_factory=list)
    """One entry per task of the request, in its order."""


def summarize_groups(results: list[RolloutResult]) -> list[GroupSummary]:
    """One summary per group, in the order each group first appears."""
    groups: dict[str, list[RolloutResult]] = {}
    for result in results:
        groups.setdefault(result.group_id, []).append(result)
    summaries = []
    for group_id, members in groups.items():
        rewards = [r.reward for r in members if r.status != "failed" and r.reward is not None]
        summaries.append(
            GroupSummary(
                group_id=group_id,
                task_id=members[0].task_id,
                samples=len(members),
                failed=len(members) - len(rewards),
                reward_mean=sum(rewards) / len(rewards) if rewards else None,
                has_signal=len(set(rewards)) > 1,
            )
        )
    return summaries


class EngineHealth(Model):
    """One engine replica behind the policy server."""

    engine: str
    healthy: bool
    in_flight: int
    failures: int


class PolicyState(Model):
    """`GET /v1/policy`: the policy as the trainer steers it."""

    version: int
    """The version every turn generated from now on records (unless its engine reports its
    own)."""
    paused: bool
    """True between a pause and a resume: new generations wait, running ones finish."""
    in_flight: int
    """Generations running now."""
    paused_total_s: float = 0.0
    """Seconds the policy has spent paused since it started (a running pause included)."""
    pause_lifts_in_s: float | None = None
    """Seconds until the running pause lifts itself (its `deadline_s`); None without one."""
    engines: list[EngineHealth] = Field(default_factory=list)


MAX_POLICY_VERSION = 2**53
"""Versions stay exact in every JSON reader (a double holds integers up to 2^53)."""

PolicyVersion = Annotated[int, Field(ge=0, le=MAX_POLICY_VERSION)]
StrictPolicyVersion = Annotated[int, Field(ge=0, le=MAX_POLICY_VERSION, strict=True)]
"""A version in a trainer's request body: a JSON integer only (lax parsing reads `true` as 1)."""


class SetPolicyVersion(Model):
    """Body of `POST /v1/policy/version`."""

    version: StrictPolicyVersion


class PausePolicy(Model):
    """Body of `POST /v1/policy/pause` (optional)."""

    timeout_s: Annotated[float, Field(gt=0, le=86_400)] = 600.0
    """How long the call waits for running generations to finish; the pause itself stays."""
    deadline_s: Annotated[float, Field(gt=0, le=86_400)] | None = None
    """The pause lifts itself this many seconds after the call (logged by the policy server),
    so a trainer that dies mid-sync cannot hold generation forever. None: until a resume. A
    later pause replaces the deadline; a resume cancels it."""


class ResumePolicy(Model):
    """Body of `POST /v1/policy/resume` (optional)."""

    version: StrictPolicyVersion | None = None
    """Set the version in the same call (the weights that were swapped in while paused)."""


class CancelledBatch(Model):
    """Answer of `POST /v1/rollouts/{batch_id}/cancel`."""

    batch_id: str
    cancelled: int
    """Samples that were still running or waiting and now end as `cancelled`."""


class EnvInfo(Model):
    """One entry of `GET /v1/envs`."""

    name: str
    agent: str
    max_turns: int
    resources_url: str
