from __future__ import annotations

from gym_core.protocol import Turn
from gym_core.token_view import build_token_view


def turn(prompt: list[int], completion: list[int], logprobs: list[float] | None = None) -> Turn:
    return Turn(
        prompt_token_ids=prompt,
        completion_token_ids=completion,
        completion_logprobs=logprobs,
        token_ids_source="engine",
    )


def test_turns_that_extend_each_other_become_one_sequence() -> None:
    check = build_token_view(
        [
            turn([1, 2], [3, 4], [-0.1, -0.2]),
            turn([1, 2, 3, 4, 5, 6], [7], [-0.3]),
        ]
    )
    assert check.consistent is True
    assert check.view.input_ids == [1, 2, 3, 4, 5, 6, 7]
    assert check.view.loss_mask == [0, 0, 1, 1, 0, 0, 1]
    assert check.view.logprobs == [0.0, 0.0, -0.1, -0.2, 0.0, 0.0, -0.3]


def test_a_rewritten_history_is_reported_not_masked() -> None:
    check = build_token_view([turn([1, 2], [3, 4]), turn([1, 2, 9, 5], [7]), turn([1], [2])])
    assert check.consistent is False
    assert check.break_turn == 1
    assert check.view is None


def test_no_ids_means_no_view_and_no_verdict() -> None:
    check = build_token_view([Turn(finish_reason="stop")])
    assert (check.view, check.consistent, check.break_turn) == (None, None, None)


def test_missing_logprobs_leave_the_ids() -> None:
    check = build_token_view([turn([1], [2])])
    assert check.view.input_ids == [1, 2]
    assert check.view.logprobs is None


def test_turns_point_into_the_view_instead_of_repeating_their_prompts() -> None:
    check = build_token_view([turn([1, 2], [3]), turn([1, 2, 3, 4], [5])])
    assert [(t.prompt_token_ids, t.prompt_length) for t in check.turns] == [(None, 2), (None, 4)]
    assert check.turns[1].completion_token_ids == [5]


def test_a_broken_prefix_keeps_every_prompt_whole() -> None:
    turns = [turn([1, 2], [3]), turn([9], [5])]
    check = build_token_view(turns)
    assert [t.prompt_token_ids for t in check.turns] == [[1, 2], [9]]
    assert all(t.prompt_length is None for t in check.turns)
