"""How the live policy draws tokens from a step's logits, and the logprob each token had under
the distribution it was actually drawn from.

The order is vLLM's: temperature, then top-k, then top-p. A trainer's importance ratios need
the logprob of the sampled distribution, so that is what is reported: at temperature 0 the
distribution is a single token and its logprob is 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Sampling", "sample", "sampled_logprobs"]


@dataclass(frozen=True)
class Sampling:
    """One request's sampling settings."""

    temperature: float = 1.0
    """0 is greedy."""
    top_p: float = 1.0
    top_k: int = 0
    """0 (or -1, as vLLM spells it) keeps every token."""

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    @property
    def filters(self) -> bool:
        return self.top_k > 0 or self.top_p < 1


def sampled_logprobs(logits: Any, samplings: list[Sampling]) -> Any:
    """Log-probabilities of each row's sampling distribution (`-inf` on filtered tokens);
    `logits` is a float tensor of shape (rows, vocabulary). Greedy rows are left at
    temperature 1: their token is the argmax either way."""
    import torch

    temperatures = torch.tensor(
        [s.temperature or 1.0 for s in samplings], dtype=logits.dtype, device=logits.device
    )
    scores = logits / temperatures[:, None]
    if any(s.filters for s in samplings):
        scores = _filtered(scores, samplings)
    return torch.log_softmax(scores, dim=-1)


def sample(
    logits: Any, samplings: list[Sampling], generators: list[Any]
) -> list[tuple[int, float]]:
    """One token per row and its logprob, each row drawn with its own generator (so a
    seeded request gives the same tokens whatever it was batched with)."""
    import torch

    logprobs = sampled_logprobs(logits, samplings)
    drawn = []
    for row, (sampling, generator) in enumerate(zip(samplings, generators, strict=True)):
        if sampling.greedy:
            drawn.append((int(logits[row].argmax()), 0.0))
            continue
        token = int(torch.multinomial(logprobs[row].exp(), 1, generator=generator))
        drawn.append((token, float(logprobs[row, token])))
    return drawn


def _filtered(scores: Any, samplings: list[Sampling]) -> Any:
    """`scores` with the tokens outside each row's top-k and top-p set to `-inf`."""
    import torch

    ordered, order = scores.sort(dim=-1, descending=True)
    ranks = torch.arange(scores.shape[-1], device=scores.device)
    top_k = torch.tensor([s.top_k if s.top_k > 0 else scores.shape[-1] for s in samplings])
    drop = ranks[None, :] >= top_k[:, None]
    ordered = ordered.masked_fill(drop, float("-inf"))
    top_p = torch.tensor([s.top_p if s.top_p < 1 else float("inf") for s in samplings])
    probs = ordered.softmax(dim=-1)
    # A token is kept while the tokens ranked above it hold less than top_p of the mass, so
    # the most likely token is always kept.
    drop |= (probs.cumsum(dim=-1) - probs) >= top_p[:, None]
    return scores.scatter(-1, order, ordered.masked_fill(drop, float("-inf")))
