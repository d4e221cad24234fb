"""The sequences the live policy generates at once: one KV cache, one attention mask, and the
position of each row, kept so that requests join the batch between steps and leave it as
they finish.

Rows are aligned on the right (left padding). A padded column is masked out of attention and
its keys and values are zeros, so a row's logits are those of its sequence alone. Rows join
by padding the shorter cache on the left; when rows leave, columns that every remaining row
has masked are cut, so attention never pays for finished rows.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Rows", "check_cache_support"]


def check_cache_support(model: Any) -> None:
    """Raise unless `model`'s KV cache is plain full attention, the only kind `Rows` can
    re-shape (sliding-window and linear-attention layers keep other state)."""
    from transformers import DynamicCache
    from transformers.cache_utils import DynamicLayer

    kinds = {type(layer).__name__ for layer in DynamicCache(config=model.config).layers}
    if kinds != {DynamicLayer.__name__}:
        raise ValueError(
            f"the live policy batches full-attention models only; {type(model).__name__} "
            f"has cache layers {sorted(kinds)}"
        )


class Rows:
    """Sequences in one batched KV cache; row `i` is the `i`-th request of the batch."""

    def __init__(self, cache: Any, mask: Any, positions: Any) -> None:
        self.cache = cache
        """A `DynamicCache`; every layer's keys and values are (rows, heads, columns, dim)."""
        self.mask = mask
        """(rows, columns): 1 where a column holds one of the row's tokens."""
        self.positions = positions
        """(rows,): the position of each row's next token (its number of tokens so far)."""
        self.pending: Any = None
        """(rows,): the token each row sampled last, not in the cache yet."""

    def __len__(self) -> int:
        return int(self.mask.shape[0])

    @classmethod
    def prefill(cls, model: Any, prompts: list[list[int]], pad_id: int) -> tuple[Rows, Any]:
        """New rows from whole prompts, and each row's logits for its first token."""
        import torch
        from transformers import DynamicCache

        width = max(len(prompt) for prompt in prompts)
        ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        cache = DynamicCache(config=model.config)
        logits = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        ).logits[:, -1]
        rows = cls(cache, mask, mask.sum(-1))
        rows._zero_padding()
        return rows, logits

    def decode(self, model: Any) -> Any:
        """Feed every row's pending token; each row's logits for its next token."""
        import torch

        mask = torch.cat([self.mask, torch.ones_like(self.mask[:, :1])], dim=-1)
        logits = model(
            input_ids=self.pending[:, None],
            attention_mask=mask,
            position_ids=self.positions[:, None],
            cache=self.cache,
            use_cache=True,
            logits_to_keep=1,
        ).logits[:, -1]
        self.mask = mask
        self.positions = self.positions + 1
        self.pending = None
        return logits

    def keep(self, indices: list[int]) -> None:
        """Only the rows at `indices` stay, in that order."""
        import torch

        if indices == list(range(len(self))):
            return
        index = torch.tensor(indices, dtype=torch.long)
        self.cache.batch_select_indices(index)
        self.mask = self.mask[index]
        self.positions = self.positions[index]
        if self.pending is not None:
            self.pending = self.pending[index]
        unused = int(self.mask.any(dim=0).int().argmax()) if indices else 0
        if unused:
            self._map_layers(lambda tensor: tensor[:, :, unused:])
            self.mask = self.mask[:, unused:]

    def join(self, other: Rows) -> None:
        """Append `other`'s rows after ours (both with their pending tokens)."""
        import torch

        width, other_width = self.mask.shape[1], other.mask.shape[1]
        self._pad(other_width - width)
        other._pad(width - other_width)
        for mine, theirs in zip(self.cache.layers, other.cache.layers, strict=True):
            mine.keys = torch.cat([mine.keys, theirs.keys])
            mine.values = torch.cat([mine.values, theirs.values])
        self.mask = torch.cat([self.mask, other.mask])
        self.positions = torch.cat([self.positions, other.positions])
        self.pending = torch.cat([self.pending, other.pending])

    def _pad(self, columns: int) -> None:
        """`columns` masked, zero columns on the left."""
        import torch

        if columns <= 0:
            return

        def pad(tensor: Any) -> Any:
            shape = (*tensor.shape[:2], columns, tensor.shape[3])
            return torch.cat([tensor.new_zeros(shape), tensor], dim=2)

        self._map_layers(pad)
        self.mask = torch.cat([self.mask.new_zeros((len(self), columns)), self.mask], dim=1)

    def _zero_padding(self) -> None:
        """Zero the keys and values of padded columns: the model computed them from pad
        tokens that attended to nothing, and a NaN there would survive the mask (0 * NaN)."""
        padded = (self.mask == 0)[:, None, :, None]
        self._map_layers(lambda tensor: tensor.masked_fill(padded, 0.0))

    def _map_layers(self, change: Any) -> None:
        for layer in self.cache.layers:
            layer.keys = change(layer.keys)
            layer.values = change(layer.values)
