"""Dynamic sampling: keep asking for groups until enough of them carry a learning signal.

GRPO normalizes each reward against its group; a group whose rewards are all equal (every
sample right, or every sample wrong) has zero advantage everywhere and teaches nothing, and a
group whose samples all failed has no rewards at all. DAPO (arXiv:2503.14476, section 3.2)
over-samples and drops such groups so every batch is full of signal. Here the trainer names the
number of groups it wants; tasks are drawn at random without replacement until that many groups
with signal came back, and every dropped group is counted.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence

from pydantic import BaseModel, Field

from gym_core.protocol import (
    GroupSummary,
    RolloutResult,
    RolloutsResponse,
    Task,
    summarize_groups,
)

__all__ = ["SignalBatch", "collect_groups_with_signal"]


class SignalBatch(BaseModel):
    """Groups with signal, and what it took to get them."""

    results: list[RolloutResult] = Field(default_factory=list)
    """Every sample of the groups kept, group by group."""
    groups: list[GroupSummary] = Field(default_factory=list)
    """The groups kept, each with `has_signal` true."""
    dropped_equal: int = 0
    """Groups dropped because the rewards of their samples were all equal."""
    dropped_failed: int = 0
    """Groups dropped because every sample failed."""
    surplus: int = 0
    """Groups with signal that came back beyond the number asked for (not returned)."""
    tasks_drawn: int = 0
    rounds: int = 0


async def collect_groups_with_signal(
    tasks: Sequence[Task],
    n_groups: int,
    run: Callable[[list[Task]], Awaitable[RolloutsResponse]],
    *,
    seed: int | None = None,
    max_rounds: int = 8,
) -> SignalBatch:
    """Draw tasks and `run` them, round after round, until `n_groups` groups have signal.

    Each round asks for the groups still missing, scaled up by the share of groups that had
    signal so far (at least as many tasks as groups missing, at most every task left).
    """
    if n_groups < 1:
        raise ValueError(f"n_groups must be at least 1, got {n_groups}")
    order = list(tasks)
    random.Random(seed).shuffle(order)
    batch = SignalBatch()
    while len(batch.groups) < n_groups and batch.tasks_drawn < len(order):
        if batch.rounds == max_rounds:
            break
        missing = n_groups - len(batch.groups)
        hit_rate = len(batch.groups) / batch.tasks_drawn if batch.groups else 1.0
        size = min(len(order) - batch.tasks_drawn, max(missing, round(missing / hit_rate)))
        drawn = order[batch.tasks_drawn : batch.tasks_drawn + size]
        batch.tasks_drawn += size
        batch.rounds += 1
        _keep(batch, await run(drawn), n_groups)
    return batch


def _keep(batch: SignalBatch, answer: RolloutsResponse, n_groups: int) -> None:
    by_group: dict[str, list[RolloutResult]] = {}
    for result in answer.results:
        by_group.setdefault(result.group_id, []).append(result)
    for group in answer.groups or summarize_groups(answer.results):
        if group.failed == group.samples:
            batch.dropped_failed += 1
        elif not group.has_signal:
            batch.dropped_equal += 1
        elif len(batch.groups) == n_groups:
            batch.surplus += 1
        else:
            batch.groups.append(group)
            batch.results += sorted(by_group[group.group_id], key=lambda r: r.sample_index)
