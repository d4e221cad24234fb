"""The verl adapter, called as verl's agent loop worker calls it, against a real stack (a
scripted engine behind the echo environment). verl installs here but cannot train (no GPU),
and its pins clash with the dev environment's, so this runs where verl is installed (see
docs/trainers.md) and is skipped elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("verl", reason="verl is not installed (docs/trainers.md says how)")

from omegaconf import OmegaConf
from verl.experimental.agent_loop.agent_loop import DictConfigWrap

from tests.conftest import gym_stack, scripted_engine
from trainers.verl import RLGymAgentLoop, verl_row

RULES: list[dict[str, Any]] = [
    {
        "role": "user",
        "match": "^echo",
        "tool_calls": [{"name": "echo", "arguments": {"text": "hi"}}],
    },
    {"role": "tool", "match": "^hi$", "reply": "done: hi"},
    {"match": "^policy crash", "status": 500},
    {"reply": "the answer is 42"},
]
PROMPT_LENGTH = 512
RESPONSE_LENGTH = 1024


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with scripted_engine(RULES) as engine_url, gym_stack(["echo"], [engine_url]) as running:
        yield running.endpoint


def agent_loop(endpoint: str, response_length: int = RESPONSE_LENGTH) -> RLGymAgentLoop:
    """Built as verl's worker builds it (hydra passes the same arguments)."""
    config = OmegaConf.create(
        {
            "actor_rollout_ref": {
                "rollout": {"prompt_length": PROMPT_LENGTH, "response_length": response_length}
            },
            "data": {},
        }
    )
    return RLGymAgentLoop(
        trainer_config=DictConfigWrap(config),
        server_manager=None,
        tokenizer=None,
        processor=None,
        dataset_cls=None,
        data_config=DictConfigWrap(config.data),
        endpoint=endpoint,
        max_retries=1,
    )


async def run(loop: RLGymAgentLoop, prompt: str, **fields: Any) -> Any:
    row = verl_row({"id": prompt.split()[0], "env": "echo", "prompt": prompt, **fields}, 0)
    sampling = {"temperature": 1.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0}
    return await loop.run(sampling, **row)


async def test_a_tool_call_episode_maps_onto_prompt_response_and_mask(endpoint: str) -> None:
    output = await run(agent_loop(endpoint), "echo please", expected="done: hi")
    assert output.reward_score == 1.0
    assert output.num_turns == 4  # user, assistant (tool call), tool, assistant
    assert len(output.response_ids) == len(output.response_mask) == len(output.response_logprobs)
    assert output.response_mask[0] == 1
    assert 0 in output.response_mask  # the tool's output, inside the response
    assert output.response_mask[-1] == 1
    assert all(
        lp == 0.0
        for lp, m in zip(output.response_logprobs, output.response_mask, strict=True)
        if not m
    )
    assert output.extra_fields["rl_gym_status"] == "completed"
    assert output.extra_fields["min_global_steps"] == output.extra_fields["max_global_steps"] == 0
    assert output.metrics.generate_sequences > 0
    # what verl does next with it: tensors of the same lengths
    record = output.as_dict()
    assert record["responses"].shape == record["response_mask"].shape


async def test_the_response_is_cut_to_verls_response_length(endpoint: str) -> None:
    output = await run(agent_loop(endpoint, response_length=8), "echo please")
    assert len(output.response_ids) == len(output.response_mask) == 8


async def test_a_failed_sample_is_retried_then_carries_no_loss(endpoint: str) -> None:
    output = await run(agent_loop(endpoint), "policy crash")
    assert output.extra_fields["rl_gym_status"] == "failed"
    assert output.extra_fields["rl_gym_failure"] == "policy_error"
    assert output.response_mask == [0]
    assert output.reward_score == 0.0


async def test_a_row_without_a_task_is_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="has no 'rl_gym_task' column; build rows with verl_row"):
        await agent_loop(endpoint).run({}, raw_prompt=[{"role": "user", "content": "hi"}])
