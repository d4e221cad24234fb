"""The tokens a trainer receives for one rollout, laid out turn by turn for the page.

Results carry token ids, never their text: the text of a token is known only to the model's
tokenizer. Given one (`gym view --tokenizer FILE.gguf` or a local Hugging Face tokenizer
directory) each token shows its text; without one, its id. Nothing is re-tokenized from the
messages: what is shown is exactly what the record holds.

With a token view the episode is one sequence, cut here at each turn's end. Without one (the
prefix broke, `prefix_break_turn`), each turn shows what its prompt added to the previous
turn's tokens; a turn whose prompt does not extend them shows its whole prompt and where it
parts from them (`diverges_at`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from gym_core.errors import ConfigError
from gym_core.protocol import RolloutResult

__all__ = ["Decoder", "TokenLayout", "load_decoder", "token_layout"]


class Decoder(Protocol):
    def pieces(self, ids: list[int]) -> list[str]:
        """The text of each token on its own."""
        ...


class Segment(BaseModel):
    turn: int
    ids: list[int]
    mask: list[int]
    """1 on tokens the policy generated (the loss sees them), 0 on prompt and environment
    tokens."""
    logprobs: list[float | None]
    text: list[str] | None = None
    diverges_at: int | None = None
    """Set on a turn whose prompt does not extend the previous turn's tokens: the position in
    `ids` where it parts from them."""


class TokenLayout(BaseModel):
    source: str
    """`token_view` (one sequence for the episode), `turns` (per turn, no token view), or
    `none` (the engine gave no ids)."""
    prefix_break_turn: int | None
    segments: list[Segment]


def token_layout(result: RolloutResult, decoder: Decoder | None) -> TokenLayout:
    if result.token_view is not None:
        segments = _view_segments(result)
        source = "token_view"
    elif result.turns and all(t.prompt_token_ids is not None for t in result.turns):
        segments = _turn_segments(result)
        source = "turns"
    else:
        segments, source = [], "none"
    if decoder is not None:
        for segment in segments:
            segment.text = decoder.pieces(segment.ids)
    return TokenLayout(source=source, prefix_break_turn=result.prefix_break_turn, segments=segments)


def _view_segments(result: RolloutResult) -> list[Segment]:
    view = result.token_view
    assert view is not None
    logprobs = view.logprobs
    segments = []
    start = 0
    for number, turn in enumerate(result.turns):
        end = (turn.prompt_length or start) + len(turn.completion_token_ids or ())
        segments.append(_segment(number, view.input_ids, view.loss_mask, logprobs, start, end))
        start = end
    if start < len(view.input_ids) or not segments:
        end = len(view.input_ids)
        segments.append(
            _segment(len(segments), view.input_ids, view.loss_mask, logprobs, start, end)
        )
    return segments


def _segment(
    turn: int,
    ids: list[int],
    mask: list[int],
    logprobs: list[float] | None,
    start: int,
    end: int,
) -> Segment:
    return Segment(
        turn=turn,
        ids=ids[start:end],
        mask=mask[start:end],
        logprobs=[
            logprobs[i] if logprobs is not None and mask[i] else None for i in range(start, end)
        ],
    )


def _turn_segments(result: RolloutResult) -> list[Segment]:
    segments = []
    previous: list[int] = []
    for number, turn in enumerate(result.turns):
        prompt = turn.prompt_token_ids or []
        completion = turn.completion_token_ids or []
        extends = prompt[: len(previous)] == previous
        shown = prompt[len(previous) :] if extends else prompt
        logprobs = turn.completion_logprobs
        if logprobs is None or len(logprobs) != len(completion):
            logprobs = [None] * len(completion)  # type: ignore[list-item]
        segments.append(
            Segment(
                turn=number,
                ids=shown + completion,
                mask=[0] * len(shown) + [1] * len(completion),
                logprobs=[None] * len(shown) + list(logprobs),
                diverges_at=None if extends else _common_prefix(prompt, previous),
            )
        )
        previous = prompt + completion
    return segments


def _common_prefix(a: list[int], b: list[int]) -> int:
    for position, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return position
    return min(len(a), len(b))


class _GgufDecoder:
    def __init__(self, path: Path) -> None:
        from llama_cpp import Llama

        self._llama = Llama(model_path=str(path), vocab_only=True, verbose=False)
        self._lock = threading.Lock()
        """Handlers run on a thread pool; a llama.cpp model is not to be used by two at once."""

    def pieces(self, ids: list[int]) -> list[str]:
        with self._lock:
            return [
                self._llama.detokenize([token], special=True).decode("utf-8", "replace")
                for token in ids
            ]


class _HuggingFaceDecoder:
    def __init__(self, path: Path) -> None:
        from transformers import AutoTokenizer

        self._tokenizer: Any = AutoTokenizer.from_pretrained(str(path), local_files_only=True)

    def pieces(self, ids: list[int]) -> list[str]:
        return [str(self._tokenizer.decode([token])) for token in ids]


def load_decoder(path: Path) -> Decoder:
    """A tokenizer's decoder from a GGUF file (llama.cpp, the `embedded` extra) or a local
    Hugging Face tokenizer directory (transformers, the `train` extra)."""
    if not path.exists():
        raise ConfigError(f"--tokenizer {path}: no such file or directory")
    try:
        if path.suffix == ".gguf":
            return _GgufDecoder(path)
        return _HuggingFaceDecoder(path)
    except ImportError as error:
        extra = "embedded" if path.suffix == ".gguf" else "train"
        raise ConfigError(
            f"--tokenizer {path}: needs {error.name} (`pip install 'rl-gym[{extra}]'`)"
        ) from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"--tokenizer {path}: not a tokenizer ({error})") from None
