from __future__ import annotations

import pytest

from gym_core.protocol import Failure, RolloutResult
from gym_core.rollout_stats import pass_at_k, summarize, summarize_by_env


def result(task: str, index: int, reward: float | None, status: str = "completed") -> RolloutResult:
    failure = Failure(kind="policy_error", message="x") if status == "failed" else None
    return RolloutResult(
        task_id=task,
        env="e",
        group_id=task,
        sample_index=index,
        messages=[],
        reward=reward,
        status=status,
        failure=failure,
    )


def test_pass_at_k_is_the_unbiased_estimator() -> None:
    assert pass_at_k(4, 0, 2) == 0.0
    assert pass_at_k(4, 4, 1) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)
    assert pass_at_k(4, 3, 2) == 1.0


def test_failures_are_counted_not_averaged_as_zero() -> None:
    stats = summarize(
        [
            result("a", 0, 1.0),
            result("a", 1, 0.0),
            result("b", 0, None, "failed"),
            result("b", 1, 1.0),
        ]
    )
    assert stats.mean_reward == pytest.approx(2 / 3)
    # b's failed sample is no wrong answer: b passed 1 of its 1 scored samples.
    assert stats.pass_at_k == {1: pytest.approx((0.5 + 1.0) / 2)}
    assert stats.failures == {"policy_error": 1}
    assert stats.statuses == {"completed": 3, "failed": 1}


def test_a_task_whose_every_sample_failed_is_left_out_of_pass_at_k() -> None:
    stats = summarize(
        [
            result("a", 0, 1.0),
            result("a", 1, 0.0),
            result("b", 0, None, "failed"),
            result("b", 1, None, "failed"),
        ]
    )
    assert stats.pass_at_k == {1: pytest.approx(0.5), 2: pytest.approx(1.0)}
    assert (stats.tasks, stats.unscored_tasks) == (2, 1)


def test_a_mixed_collection_is_summarized_per_environment() -> None:
    results = [
        result("a", 0, 1.0).model_copy(update={"env": "math"}),
        result("b", 0, 0.0).model_copy(update={"env": "math"}),
        result("c", 0, None, "failed").model_copy(update={"env": "code"}),
        result("d", 0, 1.0).model_copy(update={"env": "code"}),
    ]
    by_env = summarize_by_env(results)
    assert list(by_env) == ["code", "math"]
    assert by_env["math"].mean_reward == 0.5
    assert by_env["math"].rollouts == 2
    assert by_env["code"].mean_reward == 1.0
    assert by_env["code"].failures == {"policy_error": 1}
    assert by_env["code"].unscored_tasks == 1
