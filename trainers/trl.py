"""TRL's `GRPOTrainer`, trained through RL Gym's rollout endpoint.

    gym = trl_rollouts("http://127.0.0.1:8700", tasks, policy=live_policy)
    trainer = GRPOTrainer(
        model, reward_funcs=gym.reward_func, args=config, train_dataset=gym.dataset,
        rollout_func=gym.rollout_func, callbacks=[gym.callback], processing_class=tokenizer,
    )

TRL hands `rollout_func` only the prompts, each repeated `num_generations` times in a row. The
adapter keeps a map from each prompt to its task (so every environment field, e.g. math's
`answer`, reaches the verifier), asks `/v1/rollouts` once per batch for `num_generations`
samples of each task, and turns every result into TRL's row: `prompt_ids`, `completion_ids`
(policy and environment tokens of every turn), `logprobs`, and `env_mask` (1 on the policy's
tokens). The environment's reward and status travel as the extra keys `gym_reward`,
`gym_status` and `gym_failure`, which `env_reward` reads.

A failed sample is never scored 0. Failures that say nothing about the sample (the engine or a
service was down, the episode went stale) are run again, up to `max_retries` times; a sample
that still failed, or has no exact tokens, becomes a one-token row with `env_mask` 0, so it
carries no loss, and reward None, which TRL leaves out of its group's mean and standard
deviation, so it does not move its siblings' advantages either. A batch whose every sample
failed at the policy raises the client's `ServiceFailed` (503): the engine is down, and a step
on nothing would only hide it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import orjson
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from gym_core.errors import ServiceFailed
from gym_core.protocol import Message, RolloutResult, SamplingParams, Task
from gym_core.rollout_client import RolloutClient, TaskLike
from trainers.samples import (
    DEFAULT_MAX_RETRIES,
    is_retriable,
    is_trainable,
    training_tokens,
)

if TYPE_CHECKING:
    from datasets import Dataset
    from trl import GRPOTrainer

    from trainers.live_policy import LivePolicy

__all__ = ["PolicySync", "TrlRollouts", "env_reward", "trl_batch", "trl_rollouts"]


def env_reward(
    completions: list[Any], gym_reward: list[float | None], **_: Any
) -> list[float | None]:
    """The environment's reward, None for a sample without one (TRL then leaves it out)."""
    return list(gym_reward)


def trl_rollouts(
    endpoint: str,
    tasks: Iterable[TaskLike],
    *,
    policy: LivePolicy | None = None,
    sampling: SamplingParams | dict[str, Any] | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    token: str | None = None,
) -> TrlRollouts:
    """Everything `GRPOTrainer` needs to train on `tasks` through the rollout endpoint.

    Args:
        endpoint: the agent server's base URL (what `gym serve` prints).
        tasks: every task whose prompt the trainer will hand `rollout_func`; `.dataset`
            holds them all.
        policy: the trainer's live policy, if it serves the model being trained; the callback
            then steps the optimizer under its weights lock.
        sampling: overrides the sampling settings taken from the trainer's config
            (`temperature`, `top_p`, `max_completion_length` as each turn's `max_tokens`).
        max_retries: how many times a sample whose failure is retriable
            (`trainers.samples.RETRIED_FAILURES`) is run again.
        token: the endpoint's token, when it is not on loopback.
    """
    if max_retries < 0:
        raise ValueError(f"max_retries: expected 0 or more, got {max_retries}")
    overrides = None if sampling is None else SamplingParams.model_validate(sampling)
    client = RolloutClient(endpoint, token=token)
    try:
        return TrlRollouts(
            client, tasks, policy=policy, sampling=overrides, max_retries=max_retries
        )
    except Exception:
        client.close()
        raise


class PolicySync(TrainerCallback):  # type: ignore[misc]
    """Steps the optimizer under the live policy's weights lock (no generation reads
    half-updated weights), then sets the new policy version at the rollout endpoint, so every
    later turn records it."""

    def __init__(self, client: RolloutClient, policy: LivePolicy | None) -> None:
        self._client = client
        self._policy = policy
        self._update = contextlib.ExitStack()

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any
    ) -> None:
        """Start both at the trainer's step (not 0 when it resumes from a checkpoint)."""
        if self._policy is not None:
            with self._policy.weights_update(version=state.global_step):
                pass
        self._client.set_policy_version(state.global_step)

    def on_pre_optimizer_step(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any
    ) -> None:
        if self._policy is not None:
            self._update.enter_context(self._policy.weights_update(version=state.global_step + 1))

    def on_optimizer_step(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any
    ) -> None:
        self._update.close()
        self._client.set_policy_version(state.global_step + 1)


class TrlRollouts:
    """The rollout function, reward function, callback and dataset for one training run."""

    def __init__(
        self,
        client: RolloutClient,
        tasks: Iterable[TaskLike],
        *,
        policy: LivePolicy | None = None,
        sampling: SamplingParams | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
    ) -> None:
        self.client = client
        self.sampling = sampling
        self.max_retries = max_retries
        self.tasks = _tasks_by_prompt(tasks)
        self.callback = PolicySync(client, policy)
        self.reward_func = env_reward
        self.last_results: list[RolloutResult] = []
        """The results behind the last batch, after retries, in TRL's order."""
        self.retried = 0
        """Samples run again so far."""

    @property
    def dataset(self) -> Dataset:
        """A `prompt` column (and `task_id`) of every task, for `train_dataset`."""
        from datasets import Dataset

        return Dataset.from_list(
            [
                {"prompt": _message_dicts(task.messages()), "task_id": task.id}
                for task in self.tasks.values()
            ]
        )

    def rollout_func(self, prompts: list[Any], trainer: GRPOTrainer) -> dict[str, Any]:
        """TRL's `rollout_func`: one request to `/v1/rollouts` for the whole batch."""
        group = _group_size(trainer)
        tasks = self._tasks_of(prompts, group)
        sampling = self._sampling(trainer)
        results = self.client.rollouts(tasks, samples_per_task=group, sampling=sampling)
        results = self._retry(results, [task for task in tasks for _ in range(group)], sampling)
        self.last_results = results
        return trl_batch(results, filler_id=trainer.eos_token_ids[0])

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> TrlRollouts:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _tasks_of(self, prompts: list[Any], group: int) -> list[Task]:
        if len(prompts) % group:
            raise ValueError(
                f"rollout_func got {len(prompts)} prompts, not a whole number of groups of "
                f"{group}: TRL's sampler repeats each prompt num_generations times in a row"
            )
        tasks = []
        for start in range(0, len(prompts), group):
            keys = {_prompt_key(prompt) for prompt in prompts[start : start + group]}
            if len(keys) != 1:
                raise ValueError(
                    f"rollout_func: prompts {start}..{start + group - 1} differ; TRL's sampler "
                    "repeats each prompt num_generations times in a row"
                )
            [key] = keys
            if key not in self.tasks:
                raise ValueError(
                    f"rollout_func: the prompt {key[:120]!r} is not one of the tasks given to "
                    "trl_rollouts; build the trainer's datasets with `.dataset`"
                )
            tasks.append(self.tasks[key])
        return tasks

    def _sampling(self, trainer: GRPOTrainer) -> SamplingParams:
        from_trainer = SamplingParams(
            temperature=trainer.temperature,
            top_p=trainer.top_p,
            max_tokens=trainer.max_completion_length,
        )
        return from_trainer.merged(self.sampling)

    def _retry(
        self, results: list[RolloutResult], tasks: list[Task], sampling: SamplingParams
    ) -> list[RolloutResult]:
        """`results` with each retriable failure run again, up to `max_retries` times."""
        results = list(results)
        for _ in range(self.max_retries):
            again = [index for index, result in enumerate(results) if is_retriable(result)]
            if not again:
                break
            self.retried += len(again)
            try:
                rerun = self.client.rollouts(
                    [tasks[i] for i in again], samples_per_task=1, sampling=sampling
                )
            except ServiceFailed as error:
                if error.status != HTTPStatus.SERVICE_UNAVAILABLE:
                    raise
                break  # every retry failed at the policy: its engine is down, stop asking
            for index, result in zip(again, rerun, strict=True):
                results[index] = result
        return results


def trl_batch(results: Sequence[RolloutResult], *, filler_id: int) -> dict[str, Any]:
    """TRL's rollout output for `results`, one row each, in order.

    A result a loss may not see (it failed, or has no exact tokens) becomes a row of one
    `filler_id` token for prompt and completion, with `env_mask` 0; its tokens, when it has
    any, are not what its reward judged, or were never exact.
    """
    prompt_ids: list[list[int]] = []
    completion_ids: list[list[int]] = []
    env_mask: list[list[int]] = []
    logprobs: list[list[float]] = []
    all_logprobs = True
    for result in results:
        tokens = training_tokens(result) if is_trainable(result) else None
        if tokens is None:
            prompt_ids.append([filler_id])
            completion_ids.append([filler_id])
            env_mask.append([0])
            logprobs.append([0.0])
            continue
        prompt_ids.append(tokens.prompt_ids)
        completion_ids.append(tokens.completion_ids)
        env_mask.append(tokens.completion_mask)
        all_logprobs &= tokens.completion_logprobs is not None
        logprobs.append(tokens.completion_logprobs or [0.0] * len(tokens.completion_ids))
    return {
        "prompt_ids": prompt_ids,
        "completion_ids": completion_ids,
        "logprobs": logprobs if all_logprobs else None,
        "env_mask": env_mask,
        "gym_reward": [None if r.status == "failed" else r.reward for r in results],
        "gym_status": [r.status for r in results],
        "gym_failure": [None if r.failure is None else r.failure.kind for r in results],
    }


def _group_size(trainer: GRPOTrainer) -> int:
    """How many samples of each prompt TRL wants now: it evaluates with `num_generations_eval`."""
    training = trainer.model is not None and trainer.model.training
    size = trainer.num_generations if training else trainer.num_generations_eval
    if size is None:
        raise ValueError("GRPOTrainer: num_generations is not set")
    return size


def _message_dicts(messages: Iterable[Message]) -> list[dict[str, Any]]:
    return [message.model_dump(mode="json", exclude_none=True) for message in messages]


def _prompt_key(prompt: Any) -> str:
    """The same text for the same conversation, whatever empty keys a dataset added to it."""
    if isinstance(prompt, str):
        messages = [Message(role="user", content=prompt)]
    else:
        messages = [Message.model_validate(message) for message in prompt]
    return orjson.dumps(_message_dicts(messages), option=orjson.OPT_SORT_KEYS).decode()


def _tasks_by_prompt(tasks: Iterable[TaskLike]) -> dict[str, Task]:
    """Each task under its prompt; two different tasks with one prompt cannot be told apart."""
    by_prompt: dict[str, Task] = {}
    for row in tasks:
        task = row if isinstance(row, Task) else Task.model_validate(dict(row))
        key = _prompt_key(_message_dicts(task.messages()))
        known = by_prompt.setdefault(key, task)
        if known.model_dump(exclude={"id"}) != task.model_dump(exclude={"id"}):
            raise ValueError(
                f"tasks {known.id!r} and {task.id!r} have the same prompt but different fields; "
                "TRL hands the rollout function only the prompt, so it could not tell them apart"
            )
    if not by_prompt:
        raise ValueError("tasks: expected at least one task")
    return by_prompt
