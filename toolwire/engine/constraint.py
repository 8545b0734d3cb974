"""The hook for constrained decoding: a per-sequence object that says which tokens may come next.

Token bitmasks follow the xgrammar / llguidance convention: int32 words, bit j of word i allows
token 32 * i + j.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class TokenConstraint(Protocol):
    def fill_bitmask(self, bitmask_row: torch.Tensor) -> None:
        """Write the allowed next tokens into bitmask_row (int32 [bitmask_width(vocab_size)])."""

    def accept_token(self, token_id: int) -> bool:
        """Advance past token_id; False if the constraint does not allow it."""

    def is_terminated(self) -> bool:
        """True once the constraint is complete: the sequence then finishes with reason "stop"."""

    # Optional: `limit_tokens(max_new_tokens)`, called once with the most tokens the sequence may
    # generate (max_tokens, or what the context has left), for constraints that end within it.


def bitmask_width(vocab_size: int) -> int:
    return (vocab_size + 31) // 32


def allow_all_bitmask(rows: int, vocab_size: int) -> torch.Tensor:
    return torch.full((rows, bitmask_width(vocab_size)), -1, dtype=torch.int32)


def set_allowed(bitmask_row: torch.Tensor, token_ids) -> None:
    """Clear bitmask_row, then allow exactly token_ids (a helper for hand-written constraints)."""
    bitmask_row.zero_()
    for token_id in token_ids:
        word, bit = divmod(int(token_id), 32)
        # Stay within int32: bit 31 is the sign bit.
        value = int(bitmask_row[word]) | (1 << bit)
        bitmask_row[word] = value - (1 << 32) if value >= 1 << 31 else value


_BIT_SHIFTS = torch.arange(32, dtype=torch.int32)


def apply_bitmask(logits: torch.Tensor, bitmask: torch.Tensor) -> None:
    """Set logits[i, t] = -inf wherever bitmask row i disallows token t (in place)."""
    vocab_size = logits.shape[-1]
    bits = (bitmask.to(logits.device).unsqueeze(-1) >> _BIT_SHIFTS.to(logits.device)) & 1
    allowed = bits.flatten(1)[:, :vocab_size].bool()
    if allowed.shape[1] < vocab_size:  # a mask narrower than the logits disallows the rest
        allowed = torch.nn.functional.pad(allowed, (0, vocab_size - allowed.shape[1]))
    logits.masked_fill_(~allowed, float("-inf"))
