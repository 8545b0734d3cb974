"""Routers of the mixture-of-experts families: router logits [T, E] -> (expert ids, weights), each [T, k].

Routing is computed in float32 whatever the activations' dtype, as the reference implementations do,
so a near tie between two experts is decided the same way.
"""

from __future__ import annotations

import torch


def softmax_top_k(logits: torch.Tensor, k: int, renormalize: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixtral / Qwen-MoE: softmax over all experts, the k largest, optionally rescaled to sum to 1."""
    probs = logits.float().softmax(dim=-1)
    weights, ids = probs.topk(k, dim=-1)
    if renormalize:
        weights = weights / weights.sum(dim=-1, keepdim=True)
    return ids, weights


def top_k_softmax(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """gpt-oss: the k largest logits, softmax over those k only."""
    top, ids = logits.float().topk(k, dim=-1)
    return ids, top.softmax(dim=-1)


def biased_grouped_top_k(logits: torch.Tensor, bias: torch.Tensor | None, k: int, num_groups: int = 1,
                         groups_kept: int = 1, renormalize: bool = True,
                         scaling: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """DeepSeek-V3 / Kimi-K2 / GLM-4.5 / MiniMax-M2: sigmoid scores; the choice adds a correction bias
    and, with groups, keeps only the `groups_kept` groups whose two best biased scores sum highest;
    the weights are the unbiased scores of the chosen experts (renormalised), times `scaling`."""
    scores = logits.float().sigmoid()
    choice = scores if bias is None else scores + bias.float()
    if num_groups > 1:
        tokens, experts = choice.shape
        grouped = choice.view(tokens, num_groups, experts // num_groups)
        group_scores = grouped.topk(2, dim=-1).values.sum(dim=-1)
        kept = group_scores.topk(groups_kept, dim=-1).indices
        keep = torch.zeros_like(group_scores, dtype=torch.bool).scatter_(1, kept, True)
        choice = choice.masked_fill(~keep.repeat_interleave(experts // num_groups, dim=1), float("-inf"))
    ids = choice.topk(k, dim=-1).indices
    weights = scores.gather(1, ids)
    if renormalize:
        weights = weights / (weights.sum(dim=-1, keepdim=True) + 1e-20)
    return ids, weights * scaling
