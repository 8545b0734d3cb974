"""A bank of feed-forward experts, the grouped dispatch every mixture-of-experts family shares, and
the reading of experts from any checkpoint layout.

The router (each family's own: softmax or sigmoid, grouped top-k, renormalised or not) picks, for
every token row, `k` experts and their weights. `ExpertBank.forward` then sorts the (row, expert)
pairs by expert and runs one gate/up matmul and one down matmul per expert that has rows in the
step (the rows gathered, the weighted results added back), so the cost is one matmul pair per
active expert, not a Python loop over tokens.

Weights are held stacked: gate_up [E, 2 * I, H] (gate rows first, then up rows, as a dense MLP's
fused projection), down [E, H, I], in HF's nn.Linear layout per expert. A model's weight plan names
them per expert (`experts.E.gate_proj.weight`, as most checkpoints ship them); `ExpertTensors`
serves those names from the stacked layouts other checkpoints hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F


def silu_and_mul(gate_up: torch.Tensor) -> torch.Tensor:
    gate, up = gate_up.chunk(2, dim=-1)
    return F.silu(gate) * up


@dataclass(frozen=True)
class ExpertNaming:
    """A checkpoint's names for a sparse block and its experts' projections:
    model.layers.N.<block>.experts.E.<gate | up | down>.weight (and .bias)."""
    block: str = "mlp"
    gate: str = "gate_proj"
    up: str = "up_proj"
    down: str = "down_proj"


HF_EXPERT_NAMING = ExpertNaming()
MIXTRAL_EXPERT_NAMING = ExpertNaming("block_sparse_moe", "w1", "w3", "w2")  # Mixtral, MiniMax-M2


class ExpertBank(torch.nn.Module):
    # forward reads each expert's row count on the host (a device sync), which a CUDA graph cannot
    # capture: a model with an expert bank decodes without CUDA graphs (LlamaForCausalLM.cuda_graph_blocker).
    capture_blocker = "the expert dispatch reads each expert's row count on the host"

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

    def weight_plan(self, prefix: str, naming: ExpertNaming = HF_EXPERT_NAMING) -> list[tuple[torch.Tensor, list[str]]]:
        """This bank's stacked slices with the per-expert HF tensors they are made of:
        `{prefix}E.<gate | up | down>.weight` (and `.bias` when the bank has biases); prefix ends in "experts."."""
        plan = []
        for kind, params in (("weight", (self.gate_up, self.down)), ("bias", (self.gate_up_bias, self.down_bias))):
            gate_up, down = params
            if gate_up is None:
                continue
            for e in range(self.num_experts):
                plan += [(gate_up[e], [f"{prefix}{e}.{naming.gate}.{kind}", f"{prefix}{e}.{naming.up}.{kind}"]),
                         (down[e], [f"{prefix}{e}.{naming.down}.{kind}"])]
        return plan


# -- experts from stacked checkpoint tensors --------------------------------------------------------

@dataclass(frozen=True)
class StackedLayout:
    """How a checkpoint's stacked expert tensors [E, ...] lay each expert out."""
    transposed: bool = False  # [E, in, out] (Llama 4, gpt-oss) rather than nn.Linear's [E, out, in]
    interleaved: bool = False  # gate and up alternate along the output (gpt-oss) rather than gate block, up block


_PER_EXPERT = re.compile(r"(?P<experts>.+\.experts)\.(?P<expert>\d+)\.(?P<projection>\w+)\.(?P<kind>weight|bias)")
_ROLES = {"gate_proj": "gate", "w1": "gate", "up_proj": "up", "w3": "up", "down_proj": "down", "w2": "down"}


class ExpertTensors:
    """`get` for load_weights that, for a per-expert tensor the checkpoint lacks, cuts it from the
    layer's stacked tensors:
    - transformers' (save_pretrained of gpt-oss and Llama 4, and every MoE class's in-memory state):
      `experts.gate_up_proj` [E, 2I, H] (gate, then up) and `experts.down_proj` [E, H, I], biases
      `experts.gate_up_proj_bias` / `down_proj_bias`; in `layout` (transposed, interleaved);
    - llama.cpp's ffn_{gate,up,down}_exps, which the GGUF reader serves as `experts.gate_proj` /
      `up_proj` / `down_proj` [E, out, in].
    transformers' in-memory state also calls a `block_sparse_moe.` block `mlp.`; any name is tried
    that way too. Weights load layer by layer, so only the current layer's stacks are kept."""

    def __init__(self, get: Callable[[str], torch.Tensor], layout: StackedLayout = StackedLayout()):
        self.get, self.layout = get, layout
        self.stacks: dict[str, torch.Tensor] = {}

    def __call__(self, name: str) -> torch.Tensor:
        for candidate in dict.fromkeys((name, name.replace(".block_sparse_moe.", ".mlp."))):
            try:
                return self.get(candidate)
            except KeyError:
                pass
            match = _PER_EXPERT.fullmatch(candidate)
            if match is None or match["projection"] not in _ROLES:
                continue
            try:
                return self._cut(match["experts"], int(match["expert"]), _ROLES[match["projection"]], match["kind"])
            except KeyError:
                continue
        raise KeyError(name)

    def _cut(self, experts: str, expert: int, role: str, kind: str) -> torch.Tensor:
        suffix = "" if kind == "weight" else "_bias"
        if role == "down":
            return self._expert(f"{experts}.down_proj{suffix}", expert)
        if kind == "weight":
            try:  # llama.cpp: gate and up stacked apart
                return self._expert(f"{experts}.{role}_proj", expert)
            except KeyError:
                pass
        gate_up = self._expert(f"{experts}.gate_up_proj{suffix}", expert)
        if self.layout.interleaved:
            return gate_up[0::2] if role == "gate" else gate_up[1::2]
        gate, up = gate_up.chunk(2, dim=0)
        return gate if role == "gate" else up

    def _expert(self, stack_name: str, expert: int) -> torch.Tensor:
        """One expert's slice of a stack, in nn.Linear layout ([out, in]; [out] for a bias)."""
        if stack_name not in self.stacks:
            layer = stack_name.rpartition(".experts.")[0]
            self.stacks = {n: t for n, t in self.stacks.items() if n.rpartition(".experts.")[0] == layer}
            self.stacks[stack_name] = self.get(stack_name)
        tensor = self.stacks[stack_name][expert]
        return tensor.t() if self.layout.transposed and tensor.dim() == 2 else tensor
