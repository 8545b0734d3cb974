"""Multi-head latent attention (DeepSeek-V2/V3, Kimi-K2) over a paged cache of compressed latents.

Each token is projected to one small latent (kv_lora_rank, RMS-normed) and one rope key
(qk_rope_head_dim) shared by all heads; `kv_b_proj` expands the latent into every head's key
(nope part, to which the rope key is appended) and value. The cache keeps only the latent and the
rope key: per layer one tensor [num_blocks, block_size, kv_lora_rank + qk_rope_head_dim], some 70
times smaller than per-head keys and values at DeepSeek-V3's sizes.

Reading it takes two routes, the same arithmetic in another order:
- decode rows absorb kv_b_proj: the query's nope part is multiplied into latent space (q . W_UK),
  so the scores are one dot product with the cached [latent, rope key] rows, the shared values are
  the latents themselves, and W_UV turns the attended latent into each head's output. A step reads
  the cache once and never expands the context (which would cost context x heads x kv_b per step).
- prefill chunks expand: the chunk's context latents go through kv_b_proj once into per-head keys
  and values, then causal attention as usual (cheaper than absorption when many queries share it).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from toolwire.models.attention import AttentionMetadata, DecodeGroup, TorchPagedAttention
from toolwire.models.kv_cache import PagedKVCache, zeroed_storage
from toolwire.models.linear import Linear
from toolwire.models.llama import RMSNorm
from toolwire.models.rotary import apply_rotary, apply_rotary_interleaved

# DeepSeek's q_a_layernorm / kv_a_layernorm keep the default epsilon whatever rms_norm_eps says.
LATENT_NORM_EPS = 1e-6


def latent_cache_bytes_per_block(num_layers: int, latent_dim: int, block_size: int, dtype: torch.dtype) -> int:
    return num_layers * block_size * latent_dim * dtype.itemsize


def allocate_latent_cache(num_layers: int, latent_dim: int, num_blocks: int, block_size: int,
                          dtype: torch.dtype, device: torch.device | str) -> PagedKVCache:
    """Per layer [num_blocks, block_size, latent_dim]: each token's [latent, rope key]."""
    storage = zeroed_storage((num_layers, num_blocks, block_size, latent_dim), dtype, device)
    return PagedKVCache(list(storage.unbind(0)), num_blocks, block_size)


class LatentAttention(torch.nn.Module):
    """The projections of one layer; the paged part is LatentPagedAttention's. `config` is a
    DeepseekV3Config (q_lora_rank None: one plain q_proj)."""

    def __init__(self, config, layer: int, device=None, dtype=None):
        super().__init__()
        c = config
        self.num_heads, self.nope_dim, self.rope_dim = c.num_heads, c.qk_nope_head_dim, c.qk_rope_head_dim
        self.latent_dim = c.kv_lora_rank
        self.q_in = c.q_lora_rank or c.num_heads * c.qk_head_dim
        self.rotate = apply_rotary_interleaved if c.rope_interleave else apply_rotary
        # q_a_proj (or q_proj) and kv_a_proj_with_mqa read the same input: one matmul.
        self.a_proj = Linear(c.hidden_size, self.q_in + c.kv_lora_rank + c.qk_rope_head_dim, c.attention_bias,
                             device, dtype)
        if c.q_lora_rank:
            self.q_a_layernorm = RMSNorm(c.q_lora_rank, LATENT_NORM_EPS, device, dtype)
            self.q_b_proj = Linear(c.q_lora_rank, c.num_heads * c.qk_head_dim, False, device, dtype)
        else:
            self.q_a_layernorm = self.q_b_proj = None
        self.kv_a_layernorm = RMSNorm(c.kv_lora_rank, LATENT_NORM_EPS, device, dtype)
        # A plain tensor, not a Linear: decode reads it per head (absorbed), so it stays exact.
        self.kv_b_proj = torch.nn.Parameter(torch.empty(c.num_heads * (c.qk_nope_head_dim + c.v_head_dim),
                                                        c.kv_lora_rank, device=device, dtype=dtype),
                                            requires_grad=False)
        self.o_proj = Linear(c.num_heads * c.v_head_dim, c.hidden_size, c.attention_bias, device, dtype)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: torch.Tensor,
                backend: "LatentPagedAttention", meta: AttentionMetadata) -> torch.Tensor:
        tokens = x.shape[0]
        a = self.a_proj(x)
        q = a[:, :self.q_in]
        latent = self.kv_a_layernorm(a[:, self.q_in:self.q_in + self.latent_dim])
        rope_key = self.rotate(a[:, self.q_in + self.latent_dim:].unsqueeze(1), cos, sin).squeeze(1)
        if self.q_b_proj is not None:
            q = self.q_b_proj(self.q_a_layernorm(q))
        q = q.view(tokens, self.num_heads, self.nope_dim + self.rope_dim)
        q = torch.cat((q[..., :self.nope_dim], self.rotate(q[..., self.nope_dim:], cos, sin)), dim=-1)
        return self.o_proj(backend.forward(q, latent, rope_key, self.kv_b_proj, cache, meta))


class LatentPagedAttention(TorchPagedAttention):
    """q [T, H, nope + rope]; latent [T, L]; rope_key [T, rope]; kv_b [H * (nope + v), L];
    a layer's cache [blocks, block_size, L + rope]. Returns [T, H * v]."""

    def __init__(self, num_heads: int, nope_dim: int, rope_dim: int, v_dim: int, latent_dim: int, scale: float):
        super().__init__(num_heads, 1, latent_dim + rope_dim, scale, {None})
        self.nope_dim, self.rope_dim, self.v_dim, self.latent_dim = nope_dim, rope_dim, v_dim, latent_dim

    def forward(self, q: torch.Tensor, latent: torch.Tensor, rope_key: torch.Tensor, kv_b: torch.Tensor,
                cache: torch.Tensor, meta: AttentionMetadata) -> torch.Tensor:
        entries = torch.cat((latent, rope_key), dim=-1)
        cache[meta.write_blocks, meta.write_offsets] = entries
        if not meta.prefills:
            return self._decode_absorbed(q, kv_b, cache, meta.decode)
        out = q.new_empty(q.shape[0], self.num_heads * self.v_dim)
        for p in meta.prefills:
            rows = slice(p.start, p.start + p.query_len)
            if p.blocks is None:
                context = entries[rows]
            else:
                context = cache.index_select(0, p.blocks).view(-1, self.head_dim)[:p.context_len]
            out[rows] = self._prefill_expanded(q[rows], context, kv_b, p.masks[None])
        if meta.decode is not None:
            out[meta.decode.rows] = self._decode_absorbed(q[meta.decode.rows], kv_b, cache, meta.decode)
        return out

    def _per_head(self, kv_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """kv_b -> W_UK [H, nope, L] and W_UV [H, v, L]."""
        w = kv_b.view(self.num_heads, self.nope_dim + self.v_dim, self.latent_dim)
        return w[:, :self.nope_dim], w[:, self.nope_dim:]

    def _prefill_expanded(self, q: torch.Tensor, context: torch.Tensor, kv_b: torch.Tensor,
                          mask: torch.Tensor | None) -> torch.Tensor:
        """q [n, H, qk]; context [C, L + rope] -> [n, H * v]."""
        length = context.shape[0]
        kv = F.linear(context[:, :self.latent_dim], kv_b).view(length, self.num_heads, self.nope_dim + self.v_dim)
        rope_keys = context[:, None, self.latent_dim:].expand(length, self.num_heads, self.rope_dim)
        keys = torch.cat((kv[..., :self.nope_dim], rope_keys), dim=-1)
        out = F.scaled_dot_product_attention(q.transpose(0, 1), keys.transpose(0, 1),
                                             kv[..., self.nope_dim:].transpose(0, 1), attn_mask=mask,
                                             is_causal=mask is None, scale=self.scale)
        return out.transpose(0, 1).reshape(q.shape[0], self.num_heads * self.v_dim)

    def _decode_absorbed(self, q: torch.Tensor, kv_b: torch.Tensor, cache: torch.Tensor,
                         group: DecodeGroup) -> torch.Tensor:
        """One query per sequence, [B, H, qk] -> [B, H * v]: multi-query attention in latent space."""
        batch = q.shape[0]
        w_uk, w_uv = self._per_head(kv_b)
        q_latent = torch.matmul(q[..., :self.nope_dim].transpose(0, 1), w_uk).transpose(0, 1)  # [B, H, L]
        q_absorbed = torch.cat((q_latent, q[..., self.nope_dim:]), dim=-1) * self.scale
        entries = cache.index_select(0, group.blocks).view(batch, -1, self.head_dim)  # [B, S, L + rope]
        scores = torch.matmul(q_absorbed, entries.transpose(1, 2)) + group.biases[None][:, 0]  # [B, H, S]
        probs = scores.softmax(dim=-1).to(entries.dtype)
        attended = torch.matmul(probs, entries[..., :self.latent_dim])  # [B, H, L]
        out = torch.matmul(attended.transpose(0, 1), w_uv.transpose(1, 2))  # [H, B, v]
        return out.transpose(0, 1).reshape(batch, self.num_heads * self.v_dim)
