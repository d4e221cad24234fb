"""The TRL adapter: its rollout function on real results from a real stack (a scripted engine
behind the echo environments), and the real GRPOTrainer training through it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gym_core.errors import ServiceFailed
from tests.conftest import gym_stack, scripted_engine
from tests.fixtures.serving import gym_serving
from trainers.trl import TrlRollouts, env_reward, trl_batch, trl_rollouts

FILLER = 2
RULES: list[dict[str, Any]] = [
    {
        "role": "user",
        "match": "^echo",
        "tool_calls": [{"name": "echo", "arguments": {"text": "hi"}}],
    },
    {"role": "tool", "match": "^hi$", "reply": "done: hi"},
    {"match": "^policy crash", "status": 500},
    {"match": "^ghost", "tool_calls": [{"name": "ghost"}]},
    {"match": "^verify crash", "reply": "VERIFY_CRASH"},
    {"reply": "the answer is 42"},
]


def task(prompt: str, **fields: Any) -> dict[str, Any]:
    return {"id": prompt.replace(" ", "-"), "env": "echo", "prompt": prompt, **fields}


TASKS = [
    task("echo please", expected="done: hi"),
    task("what is six times seven", expected="42"),
    task("say nothing", expected="nothing"),
    task("policy crash"),
    task("verify crash"),
    # a tool the task offers and the environment does not have: the environment fails (tool_error)
    task("ghost tool", tools=[{"type": "function", "function": {"name": "ghost"}}]),
]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with scripted_engine(RULES) as engine_url, gym_stack(["echo"], [engine_url]) as running:
        yield running.endpoint


@pytest.fixture
def gym(endpoint: str) -> Iterator[TrlRollouts]:
    with trl_rollouts(endpoint, TASKS, max_retries=2) as gym:
        yield gym


def trainer(num_generations: int = 2, *, training: bool = True) -> Any:
    """What `rollout_func` reads of a GRPOTrainer."""
    return SimpleNamespace(
        num_generations=num_generations,
        num_generations_eval=1,
        model=SimpleNamespace(training=training),
        temperature=1.0,
        top_p=1.0,
        max_completion_length=512,
        eos_token_ids=[FILLER],
    )


def prompts_of(gym: TrlRollouts, task_ids: list[str], repeat: int) -> list[Any]:
    """The prompts TRL would pass: each dataset row's prompt, `repeat` times in a row."""
    rows = {row["task_id"]: row["prompt"] for row in gym.dataset}
    return [rows[task_id] for task_id in task_ids for _ in range(repeat)]


def test_repeated_prompts_become_groups_of_their_tasks(gym: TrlRollouts) -> None:
    ids = ["echo-please", "what-is-six-times-seven", "say-nothing"]
    batch = gym.rollout_func(prompts_of(gym, ids, 2), trainer(2))
    assert [r.task_id for r in gym.last_results] == [i for i in ids for _ in range(2)]
    assert batch["gym_reward"] == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    assert batch["gym_status"] == ["completed"] * 6
    assert env_reward(completions=[], gym_reward=batch["gym_reward"]) == batch["gym_reward"]
    for key in ("prompt_ids", "completion_ids", "logprobs", "env_mask"):
        assert len(batch[key]) == 6
    for completion, mask, logprobs in zip(
        batch["completion_ids"], batch["env_mask"], batch["logprobs"], strict=True
    ):
        assert len(completion) == len(mask) == len(logprobs)
    # the tool call's episode: a tool output inside the completion, masked
    first = gym.last_results[0]
    assert len(first.turns) == 2
    assert batch["prompt_ids"][0] == first.prompt_token_ids(0)
    assert 0 in batch["env_mask"][0]
    assert sum(batch["env_mask"][0]) == sum(len(t.completion_token_ids) for t in first.turns)
    # a single turn: all of the completion is the policy's
    assert batch["env_mask"][2] == [1] * len(batch["completion_ids"][2])


def test_evaluation_uses_num_generations_eval(gym: TrlRollouts) -> None:
    batch = gym.rollout_func(prompts_of(gym, ["say-nothing"], 1), trainer(4, training=False))
    assert len(batch["prompt_ids"]) == 1


def test_failures_of_the_machinery_are_retried_then_masked_with_no_reward(
    gym: TrlRollouts,
) -> None:
    batch = gym.rollout_func(prompts_of(gym, ["ghost-tool", "verify-crash"], 2), trainer(2))
    assert batch["gym_failure"] == ["tool_error", "tool_error", "verify_error", "verify_error"]
    # tool_error is the environment's: 2 samples x 2 retries; verify_error depends on the sample
    assert gym.retried == 4
    assert [r.failure.kind for r in gym.last_results if r.failure] == batch["gym_failure"]
    assert batch["gym_reward"] == [None] * 4
    assert batch["gym_status"] == ["failed"] * 4
    assert batch["prompt_ids"] == batch["completion_ids"] == [[FILLER]] * 4
    assert batch["env_mask"] == [[0]] * 4


def test_retries_stop_when_the_engine_is_down_for_all_of_them(gym: TrlRollouts) -> None:
    batch = gym.rollout_func(prompts_of(gym, ["policy-crash", "say-nothing"], 2), trainer(2))
    assert gym.retried == 2  # one round: every retry failed at the policy (503)
    assert batch["gym_failure"] == ["policy_error", "policy_error", None, None]
    assert batch["gym_reward"] == [None, None, 0.0, 0.0]
    assert batch["env_mask"][:2] == [[0], [0]]


def test_a_batch_that_failed_whole_at_the_policy_raises(gym: TrlRollouts) -> None:
    with pytest.raises(ServiceFailed, match="every sample failed at the policy"):
        gym.rollout_func(prompts_of(gym, ["policy-crash"], 2), trainer(2))


def test_a_result_without_exact_tokens_keeps_its_reward_but_carries_no_loss(
    gym: TrlRollouts,
) -> None:
    gym.rollout_func(prompts_of(gym, ["echo-please"], 1), trainer(1))
    [result] = gym.last_results
    broken = result.model_copy(update={"token_view": None, "prefix_consistent": False})
    batch = trl_batch([broken], filler_id=FILLER)
    assert batch["gym_reward"] == [1.0]
    assert batch["env_mask"] == [[0]]


@pytest.mark.parametrize(
    ("prompts", "group", "message"),
    [
        (["say nothing"] * 3, 2, "not a whole number of groups of 2"),
        (["say nothing", "echo please"], 2, "prompts 0..1 differ"),
        (["not a task"] * 2, 2, "is not one of the tasks given to trl_rollouts"),
    ],
)
def test_prompts_that_are_not_groups_of_known_tasks_are_refused(
    gym: TrlRollouts, prompts: list[str], group: int, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        gym.rollout_func(prompts, trainer(group))


def test_two_tasks_with_one_prompt_and_different_fields_are_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="'a' and 'b' have the same prompt but different fields"):
        trl_rollouts(
            endpoint, [task("same", id="a", expected="x"), task("same", id="b", expected="y")]
        )


def test_the_same_task_twice_is_fine(endpoint: str) -> None:
    with trl_rollouts(endpoint, [task("same", id="a"), task("same", id="b")]) as gym:
        assert len(gym.dataset) == 1


def test_a_negative_retry_count_is_refused(endpoint: str) -> None:
    with pytest.raises(ValueError, match="max_retries: expected 0 or more, got -1"):
        trl_rollouts(endpoint, TASKS, max_retries=-1)


@pytest.mark.slow
# TRL 1.16 calls transformers' `is_gradient_checkpointing`, which transformers 5.24 deprecates
@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
def test_grpo_trainer_trains_smollm2_through_the_live_policy_and_gym_serve_math(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real GRPOTrainer, a few tiny steps: the trainer's own model serves every rollout,
    and each optimizer step is a new policy version at the endpoint."""
    from trl import GRPOConfig, GRPOTrainer

    from trainers.live_policy import LivePolicy
    from trainers.smollm2 import load_smollm2

    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func is marked experimental
    tasks = [
        {"id": f"add-{a}", "env": "math", "prompt": f"What is {a} + 1?", "answer": str(a + 1)}
        for a in range(4)
    ]
    model, tokenizer = load_smollm2()
    config = GRPOConfig(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=4,  # 2 prompts x 2 samples a step
        num_generations=2,
        max_completion_length=16,
        learning_rate=1e-5,
        beta=0.0,
        seed=0,
        use_cpu=True,
        activation_checkpointing=False,  # 135M parameters: memory is not short
        save_strategy="no",
        report_to="none",
        logging_steps=1,
        disable_tqdm=True,
    )
    with (
        LivePolicy(model, tokenizer) as policy,
        # a process of its own (fork and exec): a bare fork of this process would copy the live
        # policy's serving thread half-way through whatever it was doing
        gym_serving(["math", "--policy-url", policy.url], cwd=tmp_path) as served,
        trl_rollouts(served.endpoint, tasks, policy=policy) as gym,
    ):
        trainer = GRPOTrainer(
            model,
            reward_funcs=gym.reward_func,
            args=config,
            train_dataset=gym.dataset,
            rollout_func=gym.rollout_func,
            callbacks=[gym.callback],
            processing_class=tokenizer,
        )
        trainer.train()

        assert trainer.state.global_step == 2
        assert policy.version == 2
        assert gym.client.policy().version == 2
        results = gym.last_results  # the second step's batch, sampled after the first update
        assert len(results) == 4
        assert {r.policy_version_min for r in results} == {1}
        batch = trl_batch(results, filler_id=tokenizer.eos_token_id)
    for result, prompt, completion, mask, logprobs in zip(
        results,
        batch["prompt_ids"],
        batch["completion_ids"],
        batch["env_mask"],
        batch["logprobs"],
        strict=True,
    ):
        assert result.status != "failed", result.failure
        [turn] = result.turns
        assert prompt == result.prompt_token_ids(0)
        assert completion == turn.completion_token_ids
        assert 1 <= len(completion) <= 16
        assert mask == [1] * len(completion)
        assert logprobs == turn.completion_logprobs
        assert all(logprob <= 0 for logprob in logprobs)
    logged = [entry for entry in trainer.state.log_history if "reward" in entry]
    assert len(logged) == 2
