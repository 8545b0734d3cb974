"""A bank of feed-forward experts and the grouped dispatch every mixture-of-experts family shares.

The router (each family's own: softmax or sigmoid, grouped top-k, renormalised or not) picks, for
every token row, `k` experts and their weights. `ExpertBank.forward` then sorts the (row, expert)
pairs by expert and runs one gate/up matmul and one down matmul per expert that has rows in the
step (the rows gathered, the weighted results added back), so the cost is one matmul pair per
active expert, not a Python loop over tokens.

Weights are held stacked: gate_up [E, 2 * I, H] (gate rows first, then up rows, as a dense MLP's
fused projection), down [E, H, I], in HF's nn.Linear layout per expert.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F


def silu_and_mul(gate_up: torch.Tensor) -> torch.Tensor:
    gate, up = gate_up.chunk(2, dim=-1)
    return F.silu(gate) * up


class ExpertBank(torch.nn.Module):
    def __init__(self, num_experts: int, hidden_size: int, intermediate_size: int, bias: bool = False,
                 activation: Callable[[torch.Tensor], torch.Tensor] = silu_and_mul, device=None, dtype=None):
        super().__init__()
        self.num_experts, self.intermediate_size = num_experts, intermediate_size
        self.activation = activation

        def param(*shape):
            return torch.nn.Parameter(torch.empty(*shape, device=device, dtype=dtype), requires_grad=False)

        self.gate_up = param(num_experts, 2 * intermediate_size, hidden_size)
        self.down = param(num_experts, hidden_size, intermediate_size)
        self.gate_up_bias = param(num_experts, 2 * intermediate_size) if bias else None
        self.down_bias = param(num_experts, hidden_size) if bias else None

    def forward(self, x: torch.Tensor, expert_ids: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """x [T, H]; expert_ids, weights [T, k] -> sum over k of weight * expert(x) [T, H]."""
        k = expert_ids.shape[1]
        flat_experts = expert_ids.reshape(-1)
        order = flat_experts.argsort(stable=True)
        rows = order // k  # the token row of each (row, expert) pair, grouped by expert
        pair_weights = weights.reshape(-1)[order].to(x.dtype).unsqueeze(1)
        counts = torch.bincount(flat_experts, minlength=self.num_experts).tolist()
        out = torch.zeros_like(x)
        start = 0
        for expert, count in enumerate(counts):
            if not count:
                continue
            picked = rows[start:start + count]
            hidden = F.linear(x.index_select(0, picked), self.gate_up[expert],
                              None if self.gate_up_bias is None else self.gate_up_bias[expert])
            hidden = F.linear(self.activation(hidden), self.down[expert],
                              None if self.down_bias is None else self.down_bias[expert])
            out.index_add_(0, picked, hidden * pair_weights[start:start + count])
            start += count
        return out

    def weight_plan(self, gate_up_names: Callable[[int], list[str]], down_name: Callable[[int], str],
                    gate_up_bias_names: Callable[[int], list[str]] | None = None,
                    down_bias_name: Callable[[int], str] | None = None) -> list[tuple[torch.Tensor, list[str]]]:
        """Per-expert HF tensors -> this bank's stacked slices (for the model's weight_plan)."""
        plan = []
        for e in range(self.num_experts):
            plan += [(self.gate_up[e], gate_up_names(e)), (self.down[e], [down_name(e)])]
            if self.gate_up_bias is not None and gate_up_bias_names is not None:
                plan.append((self.gate_up_bias[e], gate_up_bias_names(e)))
            if self.down_bias is not None and down_bias_name is not None:
                plan.append((self.down_bias[e], [down_bias_name(e)]))
        return plan
