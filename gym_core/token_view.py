"""One token sequence for a whole multi-turn episode, when the turns allow it honestly.

Turn k's prompt must begin with turn k-1's prompt and completion, token for token. Then the
episode is one sequence: prompt tokens, completion tokens (the only ones a loss should see),
then whatever the next prompt adds (tool outputs, the user's next message), and so on. Turns
whose prompt the policy server built from ids (`prompt_mode: tokens`) extend each other by
construction. When the engine rendered each turn from messages and the chat template rewrote
history (dropped thinking text, re-rendered a tool call) a turn breaks the prefix; we say which
one rather than re-tokenize or mask anything behind the trainer's back.

Where the view holds, each turn records only where its prompt ends in the view
(`prompt_length`), not the whole prompt again: a result grows with its length, not with the
square of its turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from gym_core.protocol import TokenView, Turn

__all__ = ["PrefixCheck", "build_token_view"]


class PrefixCheck(NamedTuple):
    """The outcome: a view, or the index of the first turn that broke the prefix; and the
    turns to record (pointing into the view where there is one)."""

    view: TokenView | None
    consistent: bool | None
    break_turn: int | None
    turns: list[Turn]


def build_token_view(turns: Sequence[Turn]) -> PrefixCheck:
    """The token view of `turns` (each with its whole prompt, as the engine answered);
    `consistent` is None when the engine gave no ids."""
    if not turns or any(
        turn.prompt_token_ids is None or turn.completion_token_ids is None for turn in turns
    ):
        return PrefixCheck(None, None, None, list(turns))
    with_logprobs = all(
        turn.completion_logprobs is not None
        and len(turn.completion_logprobs) == len(turn.completion_token_ids or ())
        for turn in turns
    )
    input_ids: list[int] = []
    loss_mask: list[int] = []
    logprobs: list[float] = []
    pointing: list[Turn] = []
    for index, turn in enumerate(turns):
        prompt = turn.prompt_token_ids or []
        if prompt[: len(input_ids)] != input_ids:
            return PrefixCheck(None, False, index, list(turns))
        pointing.append(
            turn.model_copy(update={"prompt_token_ids": None, "prompt_length": len(prompt)})
        )
        added = prompt[len(input_ids) :]
        completion = turn.completion_token_ids or []
        input_ids += added + completion
        loss_mask += [0] * len(added) + [1] * len(completion)
        logprobs += [0.0] * len(added) + list(turn.completion_logprobs or [0.0] * len(completion))
    view = TokenView(
        input_ids=input_ids, loss_mask=loss_mask, logprobs=logprobs if with_logprobs else None
    )
    return PrefixCheck(view, True, None, pointing)
