"""The numbers behind the summary charts and the groups, computed from the index's summaries.

pass@k and "passed" follow `gym_core.rollout_stats` (the same estimator and threshold), over
scored rollouts only: a failed rollout is counted apart, never averaged in as a wrong answer.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from pydantic import BaseModel

from gym_core.rollout_stats import PASS_REWARD, pass_at_k
from gym_core.viewer.index import Row, row_id

__all__ = ["GroupView", "Summary", "group_view", "groups_of", "has_signal", "summarize_rows"]

HISTOGRAM_BINS = 10
MAX_PASS_K = 64


class Histogram(BaseModel):
    edges: list[float]
    """`bins + 1` bin edges, shared by every series."""
    counts: dict[str, list[int]]
    """Series name (an environment) -> count per bin."""


class TimeSplit(BaseModel):
    policy_s: float
    tools_s: float
    verify_s: float
    other_s: float
    """Total time not spent in the three stages (the agent's own work, queueing)."""


class Summary(BaseModel):
    rollouts: int
    rewards: Histogram
    pass_at_k: dict[str, dict[int, float]]
    """Environment -> k -> pass@k over its tasks with a scored rollout."""
    statuses: dict[str, int]
    failures: dict[str, int]
    tokens: Histogram
    time_split: dict[str, TimeSplit]
    """Environment -> mean seconds per rollout in each stage."""


def summarize_rows(rows: list[Row]) -> Summary:
    by_env: dict[str, list[Row]] = defaultdict(list)
    scored: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_env[row.env].append(row)
        if row.status != "failed" and row.reward is not None:
            scored[row.env].append(row)
    return Summary(
        rollouts=len(rows),
        rewards=_histogram(
            {env: [r.reward or 0.0 for r in group] for env, group in scored.items()}
        ),
        pass_at_k={env: _pass_curve(group) for env, group in sorted(scored.items()) if group},
        statuses=dict(Counter(row.status for row in rows)),
        failures=dict(Counter(row.failure for row in rows if row.failure is not None)),
        tokens=_histogram({env: [float(r.tokens) for r in group] for env, group in by_env.items()}),
        time_split={env: _time_split(group) for env, group in sorted(by_env.items())},
    )


def _scored(row: Row) -> bool:
    return row.status != "failed" and row.reward is not None


def _histogram(series: dict[str, list[float]]) -> Histogram:
    values = [value for group in series.values() for value in group]
    if not values:
        return Histogram(edges=[], counts={})
    low, high = min(values), max(values)
    bins = HISTOGRAM_BINS if high > low else 1
    width = (high - low) / bins or 1.0
    counts = {}
    for name in sorted(series):
        counts[name] = [0] * bins
        for value in series[name]:
            counts[name][min(int((value - low) / width), bins - 1)] += 1
    return Histogram(edges=[low + width * i for i in range(bins + 1)], counts=counts)


def _pass_curve(scored: list[Row]) -> dict[int, float]:
    """k -> pass@k, for k from 1 to the fewest scored samples any task has."""
    by_task: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in scored:
        counts = by_task[row.task_id]
        counts[0] += 1
        counts[1] += (row.reward or 0.0) >= PASS_REWARD
    # tasks share few (samples, passed) pairs: each pair's pass@k is computed once
    pairs = Counter((samples, passed) for samples, passed in by_task.values())
    largest = min(MAX_PASS_K, min(samples for samples, _ in pairs))
    return {
        k: sum(pass_at_k(n, passed, k) * tasks for (n, passed), tasks in pairs.items())
        / len(by_task)
        for k in range(1, largest + 1)
    }


def _time_split(rows: list[Row]) -> TimeSplit:
    policy = tools = verify = total = 0.0
    for row in rows:
        policy += row.policy_s
        tools += row.tools_s
        verify += row.verify_s
        total += row.total_s
    count = len(rows)
    policy, tools, verify, total = policy / count, tools / count, verify / count, total / count
    return TimeSplit(
        policy_s=policy,
        tools_s=tools,
        verify_s=verify,
        other_s=max(0.0, total - policy - tools - verify),
    )


class Sample(BaseModel):
    id: str
    sample_index: int
    status: str
    reward: float | None


class GroupView(BaseModel):
    """The samples of one task in one request, side by side."""

    group_id: str
    task_id: str
    env: str
    samples: list[Sample]
    reward_mean: float | None
    has_signal: bool
    """The scored samples' rewards differ: only then does a group-relative advantage teach
    anything (as `gym_core.protocol.GroupSummary.has_signal`)."""


def groups_of(rows: Iterable[Row]) -> list[list[Row]]:
    """The rows of each group, by sample index, in the order each group first appears."""
    groups: dict[tuple[int, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.file, row.group_id), []).append(row)
    for members in groups.values():
        members.sort(key=lambda row: row.sample_index)
    return list(groups.values())


def _scored_rewards(members: list[Row]) -> list[float]:
    return [row.reward for row in members if _scored(row) and row.reward is not None]


def has_signal(members: list[Row]) -> bool:
    return len(set(_scored_rewards(members))) > 1


def group_view(members: list[Row]) -> GroupView:
    rewards = _scored_rewards(members)
    first = members[0]
    return GroupView(
        group_id=first.group_id,
        task_id=first.task_id,
        env=first.env,
        samples=[
            Sample(
                id=row_id(row), sample_index=row.sample_index, status=row.status, reward=row.reward
            )
            for row in members
        ],
        reward_mean=sum(rewards) / len(rewards) if rewards else None,
        has_signal=len(set(rewards)) > 1,
    )
