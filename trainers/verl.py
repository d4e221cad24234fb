"""verl's agent loop, run by RL Gym: each sample verl asks for is one episode at the endpoint.

verl (0.9) builds one agent loop per sample and awaits its `run()`. `RLGymAgentLoop.run` posts
the sample's task to `/v1/rollout` and returns the episode as verl's `AgentLoopOutput`: the
prompt ids, the response ids (the policy's tokens of every turn and the environment's between
them), the response mask (1 on the policy's), their logprobs, the environment's reward, and the
policy versions the turns used (as `min_global_steps` / `max_global_steps`, the names verl's
off-policy code reads). Register it in the file named by
`actor_rollout_ref.rollout.agent.agent_loop_config_path`:

    - name: rl_gym
      _target_: trainers.verl.RLGymAgentLoop
      endpoint: http://127.0.0.1:8700

and give every dataset row `agent_name: rl_gym` and its task (`verl_row` builds such rows).

The inference engine is RL Gym's policy server, not verl's own server manager: point the
policy server at verl's vLLM or SGLang servers (`gym serve ENVS --policy-url URL`).

Failures: a failure of the machinery is run again (`trainers.samples.is_retriable`). A sample
that still failed, or has no exact tokens, becomes a one-token response with mask 0 (no loss).
verl needs a number for every sample's reward and has no way to leave one out of its group's
mean, so such a sample scores 0.0; `extra_fields` carry `rl_gym_status` and `rl_gym_failure`
for a trainer that filters them.
"""

from __future__ import annotations

from typing import Any

from verl.experimental.agent_loop.agent_loop import (
    AgentLoopBase,
    AgentLoopMetrics,
    AgentLoopOutput,
)

from gym_core.protocol import RolloutResult, SamplingParams, Task
from gym_core.rollout_client import AsyncRolloutClient, TaskLike
from trainers.samples import DEFAULT_MAX_RETRIES, is_retriable, is_trainable, training_tokens

__all__ = ["AGENT_NAME", "RLGymAgentLoop", "agent_loop_output", "verl_row"]

AGENT_NAME = "rl_gym"
TASK_COLUMN = "rl_gym_task"


def verl_row(task: TaskLike, index: int) -> dict[str, Any]:
    """A verl dataset row for `task`: its prompt, our agent loop, and the whole task as JSON
    (verl hands every column of the row to the agent loop)."""
    validated = task if isinstance(task, Task) else Task.model_validate(dict(task))
    return {
        "data_source": f"rl_gym/{validated.env}",
        "prompt": [m.model_dump(mode="json", exclude_none=True) for m in validated.messages()],
        "agent_name": AGENT_NAME,
        TASK_COLUMN: validated.model_dump_json(exclude_none=True),
        "extra_info": {"index": index},
    }


class RLGymAgentLoop(AgentLoopBase):  # type: ignore[misc]
    """One sample of one task, run at RL Gym's rollout endpoint."""

    def __init__(
        self,
        *args: Any,
        endpoint: str,
        token: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint = endpoint
        self.token = token
        self.max_retries = max_retries

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        if TASK_COLUMN not in kwargs:
            raise ValueError(
                f"the dataset row has no {TASK_COLUMN!r} column; build rows with verl_row(task)"
            )
        task = Task.model_validate_json(kwargs[TASK_COLUMN])
        sampling = self._sampling(sampling_params)
        async with AsyncRolloutClient(self.endpoint, token=self.token) as client:
            result = await client.rollout(task, sampling=sampling)
            for _ in range(self.max_retries):
                if not is_retriable(result):
                    break
                result = await client.rollout(task, sampling=sampling)
        return agent_loop_output(
            result,
            prompt_length=self.rollout_config.prompt_length,
            response_length=self.rollout_config.response_length,
            filler_id=self.tokenizer.pad_token_id if self.tokenizer is not None else 0,
        )

    def _sampling(self, sampling_params: dict[str, Any]) -> SamplingParams:
        """verl's sampling settings in RL Gym's terms; a turn may use the whole response."""
        settings: dict[str, Any] = {"max_tokens": self.rollout_config.response_length}
        for key in ("temperature", "top_p"):
            if sampling_params.get(key) is not None:
                settings[key] = sampling_params[key]
        top_k = sampling_params.get("top_k")
        if top_k is not None and top_k > 0:  # verl's -1 means "off"
            settings["top_k"] = top_k
        return SamplingParams.model_validate(settings)


def agent_loop_output(
    result: RolloutResult, *, prompt_length: int, response_length: int, filler_id: int
) -> AgentLoopOutput:
    """verl's record of `result`: the prompt cut to its last `prompt_length` tokens, the
    response to its first `response_length` (verl pads both to those lengths)."""
    tokens = training_tokens(result) if is_trainable(result) else None
    if tokens is None:
        prompt_ids, response_ids, mask = [filler_id], [filler_id], [0]
        logprobs: list[float] | None = [0.0]
    else:
        prompt_ids = tokens.prompt_ids[-prompt_length:]
        response_ids = tokens.completion_ids[:response_length]
        mask = tokens.completion_mask[:response_length]
        logprobs = tokens.completion_logprobs
        logprobs = None if logprobs is None else logprobs[:response_length]
    scored = result.status != "failed" and result.reward is not None
    return AgentLoopOutput(
        prompt_ids=prompt_ids,
        response_ids=response_ids,
        response_mask=mask,
        response_logprobs=logprobs,
        reward_score=result.reward if scored else 0.0,
        num_turns=len(result.messages),
        metrics=AgentLoopMetrics(
            generate_sequences=result.timing.policy_s,
            tool_calls=result.timing.tools_s,
            compute_score=result.timing.verify_s,
        ),
        extra_fields={
            "rl_gym_status": result.status,
            "rl_gym_failure": None if result.failure is None else result.failure.kind,
            "rl_gym_task_id": result.task_id,
            "min_global_steps": result.policy_version_min,
            "max_global_steps": result.policy_version_max,
        },
    )
