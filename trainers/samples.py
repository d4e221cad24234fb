"""A rollout result as the rows a trainer's loss reads: prompt ids, then everything after them.

Trainers split an episode at the end of its first prompt: what comes before is the prompt, what
comes after is the "completion" (TRL) or "response" (verl), holding the policy's tokens and, in
a multi-turn episode, the tool outputs and user messages between them. A mask says which of
those tokens the policy generated. The split is read from the result's token view, which exists
only when every turn's prompt extended the previous turn's tokens; a result without one (it
failed before its first turn, the engine gave no token ids, or a chat template rewrote history)
has no exact tokens to train on, and this module says so instead of inventing them.

It also says which failed samples an adapter may run again (`is_retriable`).
"""

from __future__ import annotations

from dataclasses import dataclass

from gym_core.protocol import FailureKind, RolloutResult

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "RETRIED_FAILURES",
    "TrainingTokens",
    "is_retriable",
    "is_trainable",
    "training_tokens",
]

DEFAULT_MAX_RETRIES = 2
RETRIED_FAILURES: frozenset[FailureKind] = frozenset(
    {
        "policy_error",
        "policy_timeout",
        "tool_error",
        "env_error",
        "sandbox_error",
        "replica_lost",
        "internal_error",
        "stale",
    }
)
"""Failures of the machinery, not of the sample: running the sample again is a fair draw from
the same policy. Not retried: `bad_task` (the task itself is broken, so every try fails the
same way), `verify_error` and `verify_timeout` (they depend on what the model wrote; retrying
them until they pass would favour answers that are easy to verify), and `cancelled` (someone
chose to end the batch)."""


@dataclass(frozen=True)
class TrainingTokens:
    """One episode, split at the end of its first prompt."""

    prompt_ids: list[int]
    completion_ids: list[int]
    """Every token after the prompt: the policy's, and the environment's between its turns."""
    completion_mask: list[int]
    """1 on tokens the policy generated, 0 on tool outputs and user messages."""
    completion_logprobs: list[float] | None
    """The sampling policy's logprob of each completion token, 0.0 where the mask is 0;
    None when the engine gave no logprobs."""


def training_tokens(result: RolloutResult) -> TrainingTokens | None:
    """The exact tokens of `result`, or None when it has no token view."""
    view = result.token_view
    first_prompt = result.prompt_token_ids(0) if result.turns else None
    if view is None or first_prompt is None:
        return None
    split = len(first_prompt)
    return TrainingTokens(
        prompt_ids=view.input_ids[:split],
        completion_ids=view.input_ids[split:],
        completion_mask=view.loss_mask[split:],
        completion_logprobs=None if view.logprobs is None else view.logprobs[split:],
    )


def is_trainable(result: RolloutResult) -> bool:
    """Whether a loss may see `result`: it did not fail, and its tokens are exact."""
    return result.status != "failed" and result.token_view is not None


def is_retriable(result: RolloutResult) -> bool:
    """Whether `result` failed in a way that running the sample again is a fair redraw."""
    return result.failure is not None and result.failure.kind in RETRIED_FAILURES
