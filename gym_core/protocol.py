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

RolloutStatus = Literal["completed", "truncated", "failed"]
"""`completed`: the episode ended as the environment intended (a final answer, or the
environment had nothing more to say). `truncated`: it was cut short by `max_turns` or by the
policy hitting its token limit; it is still verified. `failed`: something other than the policy
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


class SamplingParams(BaseModel):
    """Sampling settings passed to the engine; unknown keys (top_k, min_p, ...) pass through."""

    model_config = ConfigDict(extra="allow")

    temperature: Annotated[float, Field(ge=0)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    stop: str | list[str] | None = None
    seed: int | None = None

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
    prompt: str | list[Message]
    """A user message, or the whole opening conversation."""
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


class RolloutRequest(Model):
    """Body of `POST /v1/rollout`: one sample of one task."""

    task: Task
    sample_index: Annotated[int, Field(ge=0)] = 0
    group_id: str | None = None
    """Join an existing group (e.g. when resuming); a new one is made when absent."""
    sampling: SamplingParams | None = None


class RolloutsResponse(Model):
    results: list[RolloutResult]


class EnvInfo(Model):
    """One entry of `GET /v1/envs`."""

    name: str
    agent: str
    max_turns: int
    resources_url: str
