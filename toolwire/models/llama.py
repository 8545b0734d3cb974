"""The Llama family (Llama, Mistral, Qwen2, Qwen3, SmolLM2, Granite) as one model over a paged KV cache.

Per-architecture differences are ModelConfig flags. q/k/v and gate/up projections are fused into one
matmul each. Weights load from HF-named tensors (`load_weights`), whatever file they came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from toolwire.engine.forward_batch import ForwardBatch
from toolwire.models.attention import AttentionMetadata, select_attention_backend
from toolwire.models.config import ModelConfig
from toolwire.models.kv_cache import PagedKVCache, allocate_kv_cache, kv_cache_bytes_per_block
from toolwire.models.linear import EXACT, Linear
from toolwire.models.quantized import QuantizedTensor, QuantizedWeight
from toolwire.models.rotary import RotaryEmbedding, apply_rotary

# The largest batch (in token rows) that takes the decode path of the linear layers.
DEFAULT_DECODE_MAX_ROWS = 4


@dataclass(frozen=True)
class MatmulWeights:
    decode: str
    batch: str
    decode_max_rows: int


class RMSNorm(torch.nn.Module):
    def __init__(self, size: int, eps: float, device=None, dtype=None):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.empty(size, device=device, dtype=dtype), requires_grad=False)
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self.weight.shape, self.weight, self.eps)


class Attention(torch.nn.Module):
    def __init__(self, config: ModelConfig, layer: int, device=None, dtype=None):
        super().__init__()
        self.num_heads, self.num_kv_heads, self.head_dim = config.num_heads, config.num_kv_heads, config.head_dim
        self.q_size, self.kv_size = config.q_size, config.kv_size
        self.window = config.layer_windows[layer]
        self.qkv_proj = Linear(config.hidden_size, self.q_size + 2 * self.kv_size, config.attention_bias,
                               device, dtype)
        self.o_proj = Linear(self.q_size, config.hidden_size, config.attention_out_bias, device, dtype)
        if config.qk_norm:
            self.q_norm = RMSNorm(self.head_dim, config.rms_norm_eps, device, dtype)
            self.k_norm = RMSNorm(self.head_dim, config.rms_norm_eps, device, dtype)
        else:
            self.q_norm = self.k_norm = None

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: torch.Tensor,
                backend, meta: AttentionMetadata) -> torch.Tensor:
        tokens = x.shape[0]
        qkv = self.qkv_proj(x)
        heads = self.num_heads + self.num_kv_heads
        if self.q_norm is None:
            qk = apply_rotary(qkv[:, :self.q_size + self.kv_size].view(tokens, heads, self.head_dim), cos, sin)
            q, k = qk[:, :self.num_heads], qk[:, self.num_heads:]
        else:
            q = self.q_norm(qkv[:, :self.q_size].view(tokens, self.num_heads, self.head_dim))
            k = self.k_norm(qkv[:, self.q_size:self.q_size + self.kv_size].view(tokens, self.num_kv_heads,
                                                                                 self.head_dim))
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        v = qkv[:, self.q_size + self.kv_size:].view(tokens, self.num_kv_heads, self.head_dim)
        return self.o_proj(backend.forward(q, k, v, cache, meta, self.window))


class MLP(torch.nn.Module):
    def __init__(self, config: ModelConfig, device=None, dtype=None):
        super().__init__()
        self.intermediate_size = config.intermediate_size
        self.gate_up_proj = Linear(config.hidden_size, 2 * config.intermediate_size, config.mlp_bias, device, dtype)
        self.down_proj = Linear(config.intermediate_size, config.hidden_size, config.mlp_bias, device, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate_up = self.gate_up_proj(x)
        gate, up = gate_up[:, :self.intermediate_size], gate_up[:, self.intermediate_size:]
        return self.down_proj(F.silu(gate) * up)


class DecoderLayer(torch.nn.Module):
    """Pre-norm attention then pre-norm MLP, each added to the residual. Families with another
    attention or feed-forward (experts) pass their own modules; each takes and returns [T, hidden]."""

    def __init__(self, config: ModelConfig, layer: int, device=None, dtype=None,
                 attention: torch.nn.Module | None = None, mlp: torch.nn.Module | None = None):
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps, device, dtype)
        self.self_attn = attention if attention is not None else Attention(config, layer, device, dtype)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps, device, dtype)
        self.mlp = mlp if mlp is not None else MLP(config, device, dtype)
        self.residual_multiplier = config.residual_multiplier

    def forward(self, x: torch.Tensor, cos, sin, cache, backend, meta) -> torch.Tensor:
        attn = self.self_attn.forward(self.input_layernorm.forward(x), cos, sin, cache, backend, meta)
        x = torch.add(x, attn, alpha=self.residual_multiplier)
        mlp = self.mlp.forward(self.post_attention_layernorm.forward(x))
        return x.add_(mlp, alpha=self.residual_multiplier)


class LlamaForCausalLM(torch.nn.Module):
    def __init__(self, config: ModelConfig, device: torch.device | str = "cpu",
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        device = torch.device(device)
        self.config = config
        self.embed_tokens = torch.nn.Parameter(
            torch.empty(config.vocab_size, config.hidden_size, device=device, dtype=dtype), requires_grad=False)
        self.layers = torch.nn.ModuleList(self.make_layer(config, i, device, dtype) for i in range(config.num_layers))
        self.norm = RMSNorm(config.hidden_size, config.rms_norm_eps, device, dtype)
        self.lm_head = Linear(config.hidden_size, config.vocab_size, False, device, dtype)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.embed_tokens
        self.rotary = RotaryEmbedding(config, device)
        self.attention = select_attention_backend(config.num_heads, config.num_kv_heads, config.head_dim,
                                                  config.attention_scale, set(config.layer_windows), device)
        self.matmul_weights = MatmulWeights(EXACT, EXACT, 0)
        self.quantized_embeddings: QuantizedWeight | None = None
        self._kept_quantized: set[int] = set()  # ids of the parameters whose file blocks are used instead

    def make_layer(self, config: ModelConfig, layer: int, device, dtype) -> torch.nn.Module:
        """Layer `layer`; families override it (another MLP, another attention)."""
        return DecoderLayer(config, layer, device, dtype)

    # -- running ------------------------------------------------------------------------------------

    def forward(self, batch: ForwardBatch, kv_cache: PagedKVCache) -> torch.Tensor:
        """All new tokens of the step -> their final hidden states [T, hidden] (after the last norm)."""
        if self.quantized_embeddings is not None:
            x = self.quantized_embeddings.rows(batch.input_ids)
        else:
            x = F.embedding(batch.input_ids, self.embed_tokens)
        if self.config.embedding_multiplier != 1.0:
            x = x * self.config.embedding_multiplier
        cos, sin = self.rotary.cos_sin(batch.positions, x.dtype)
        meta = self.attention.prepare(batch, kv_cache.block_size)
        for i, layer in enumerate(self.layers):
            x = layer.forward(x, cos, sin, kv_cache.layers[i], self.attention, meta)
        return self.norm.forward(x)

    def cuda_graph_blocker(self) -> str | None:
        """Why a decode step of this model cannot be captured in a CUDA graph (the engine then runs
        it eagerly), or None when it can: what the first module declaring a `capture_blocker` says."""
        return next((m.capture_blocker for m in self.modules() if getattr(m, "capture_blocker", None)), None)

    def compute_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """[N, hidden] -> float32 logits [N, vocab]."""
        logits = self.lm_head.forward(hidden).float()
        if self.config.logits_scaling != 1.0:
            logits /= self.config.logits_scaling
        return logits

    # -- the KV cache -------------------------------------------------------------------------------

    def kv_cache_bytes_per_block(self, block_size: int, dtype: torch.dtype) -> int:
        c = self.config
        return kv_cache_bytes_per_block(c.num_layers, c.num_kv_heads, c.head_dim, block_size, dtype)

    def make_kv_cache(self, num_blocks: int, block_size: int, dtype: torch.dtype | None = None,
                      device: torch.device | str | None = None) -> PagedKVCache:
        c = self.config
        return allocate_kv_cache(c.num_layers, c.num_kv_heads, c.head_dim, num_blocks, block_size,
                                 dtype or self.embed_tokens.dtype, device or self.embed_tokens.device)

    # -- weights ------------------------------------------------------------------------------------

    @property
    def dtype(self) -> torch.dtype:
        """The activation dtype (and the KV cache's natural one)."""
        return self.embed_tokens.dtype

    @property
    def device(self) -> torch.device:
        return self.embed_tokens.device

    def set_matmul_weights(self, decode: str = EXACT, batch: str = EXACT,
                           decode_max_rows: int = DEFAULT_DECODE_MAX_ROWS, keep_exact: bool = True) -> None:
        """Which weights the linear layers multiply with: `decode` for batches of at most
        decode_max_rows token rows, `batch` for bigger ones. Each is "exact" (as loaded), "bf16",
        "int8" or "int4". Without keep_exact, exact weights no path uses are freed (saves memory;
        "exact" cannot be chosen again)."""
        for module in self.modules():
            if isinstance(module, Linear):
                module.set_kernels(decode, decode_max_rows, batch, keep_exact)
        self.matmul_weights = MatmulWeights(decode, batch, decode_max_rows)

    def weight_plan(self) -> list[tuple[torch.Tensor, list[str]]]:
        """Each parameter with the HF tensors it is made of (fused ones stack several by rows)."""
        c = self.config
        plan = [(self.embed_tokens, ["model.embed_tokens.weight"])]
        for i, layer in enumerate(self.layers):
            p = f"model.layers.{i}."
            plan += [(layer.input_layernorm.weight, [p + "input_layernorm.weight"]),
                     (layer.post_attention_layernorm.weight, [p + "post_attention_layernorm.weight"])]
            plan += self.attention_weight_plan(layer.self_attn, p + "self_attn.")
            plan += self.mlp_weight_plan(layer.mlp, p + "mlp.", i)
        plan.append((self.norm.weight, ["model.norm.weight"]))
        if not c.tie_word_embeddings:
            plan.append((self.lm_head.weight, ["lm_head.weight"]))
        return plan

    def attention_weight_plan(self, attn: Attention, prefix: str) -> list[tuple[torch.Tensor, list[str]]]:
        c = self.config
        plan = [(attn.qkv_proj.weight, [prefix + f"{x}_proj.weight" for x in "qkv"]),
                (attn.o_proj.weight, [prefix + "o_proj.weight"])]
        if c.attention_bias:
            plan.append((attn.qkv_proj.bias, [prefix + f"{x}_proj.bias" for x in "qkv"]))
        if c.attention_out_bias:
            plan.append((attn.o_proj.bias, [prefix + "o_proj.bias"]))
        if c.qk_norm:
            plan += [(attn.q_norm.weight, [prefix + "q_norm.weight"]), (attn.k_norm.weight, [prefix + "k_norm.weight"])]
        return plan

    def mlp_weight_plan(self, mlp: torch.nn.Module, prefix: str, layer: int) -> list[tuple[torch.Tensor, list[str]]]:
        plan = [(mlp.gate_up_proj.weight, [prefix + "gate_proj.weight", prefix + "up_proj.weight"]),
                (mlp.down_proj.weight, [prefix + "down_proj.weight"])]
        if self.config.mlp_bias:
            plan += [(mlp.gate_up_proj.bias, [prefix + "gate_proj.bias", prefix + "up_proj.bias"]),
                     (mlp.down_proj.bias, [prefix + "down_proj.bias"])]
        return plan

    def keep_quantized(self, get: Callable[[str], QuantizedTensor | None]) -> list[QuantizedWeight]:
        """Before load_weights: every linear layer (and the embeddings) whose tensors `get` has in a
        quantized layout with kernels multiplies with those blocks instead of a float copy, which is
        then never filled. Returns the weights kept so."""
        linears = {id(m.weight): m for m in self.modules() if isinstance(m, Linear) and m.weight is not None}
        kept = []
        for param, names in self.weight_plan():
            is_embedding = param is self.embed_tokens
            if param.dim() != 2 or not (is_embedding or id(param) in linears):
                continue
            parts = [get(name) for name in names]
            if any(part is None for part in parts) or (is_embedding and len(parts) != 1):
                continue
            weight = QuantizedWeight(parts, in_features=param.shape[1])
            if weight.out_features != param.shape[0] or any(p.columns != param.shape[1] for p in parts):
                raise ValueError(f"tensors {', '.join(names)} do not fit {tuple(param.shape)} "
                                 f"(the config disagrees with the weights)")
            if is_embedding:
                self.quantized_embeddings = weight
                if self.config.tie_word_embeddings:
                    self.lm_head.quantized = weight
            else:
                linears[id(param)].quantized = weight
            param.data = torch.empty(0, dtype=param.dtype, device=param.device)
            self._kept_quantized.add(id(param))
            kept.append(weight)
        return kept

    def load_weights(self, get: Callable[[str], torch.Tensor]) -> None:
        """Fill every parameter from `get(hf_tensor_name)`, which returns a tensor in HF layout."""
        for param, names in self.weight_plan():
            if id(param) in self._kept_quantized:
                continue
            target, start = param.data, 0
            for name in names:
                tensor = get(name)
                rows = tensor.shape[0] if tensor.dim() else 0
                if tuple(tensor.shape[1:]) != tuple(target.shape[1:]) or start + rows > target.shape[0]:
                    raise ValueError(f"tensor {name} has shape {tuple(tensor.shape)}, which does not fit "
                                     f"{tuple(target.shape)} (the config disagrees with the weights)")
                target[start:start + rows].copy_(tensor)
                start += rows
            if start != target.shape[0]:
                raise ValueError(f"tensors {', '.join(names)} have {start} rows; expected {target.shape[0]}")


def _architectures():
    from toolwire.models.architectures import Architecture
    from toolwire.models.config import DENSE_GGUF_ARCHITECTURES, dense_config_from_gguf, dense_config_from_hf

    return (Architecture(
        name="llama", hf_model_types=("llama", "mistral", "qwen2", "qwen3", "granite"),
        read_hf_config=dense_config_from_hf, model_class=LlamaForCausalLM,
        covers="Llama 2 / 3.x, SmolLM2, Mistral 7B / Nemo / Small, Qwen2.5, Qwen3 (dense), Granite 3",
        gguf_architectures=tuple(DENSE_GGUF_ARCHITECTURES), read_gguf_config=dense_config_from_gguf),)


ARCHITECTURES = _architectures()
