"""Paged attention, as a backend the model calls once per layer.

`prepare` turns a ForwardBatch into metadata once per step (gather indices, masks); `forward` writes
the layer's new keys/values into the cache at their slots and attends. The reference backend here is
plain torch (gather through block tables + scaled_dot_product_attention) and runs on any device.

Pure-decode batches take one batched path: every sequence's blocks are gathered at once (padded to
the block table's width) and attended with two batched matmuls and a padding mask. Its lengths come from the
positions tensor (a decode token at position p sees p + 1 keys), never from Python lists or .item(),
so the path can be captured in a CUDA graph. Batches with prefill chunks loop over those sequences
(the causal mask is offset by the tokens already cached) and run their decode tokens batched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from toolwire.engine.forward_batch import ForwardBatch


@dataclass(frozen=True)
class ChunkedAttention:
    """Llama 4's local attention: a query sees the keys of its own chunk of `size` tokens (chunks
    start at positions 0, size, 2 * size, ...) up to itself."""
    size: int


# Which keys a layer's queries see, and the key of that layer's mask / bias: None (all earlier
# tokens), an int (a sliding window of that many tokens, the query's own included) or ChunkedAttention.
Window = int | ChunkedAttention | None


def visible_keys(key_positions: torch.Tensor, query_positions: torch.Tensor, window: Window) -> torch.Tensor:
    """Key positions [K] against query positions [Q, 1] -> [Q, K] bool: may the query see the key."""
    mask = key_positions <= query_positions
    if isinstance(window, ChunkedAttention):
        mask &= key_positions >= query_positions - query_positions % window.size
    elif window is not None:
        mask &= key_positions > query_positions - window
    return mask


@dataclass
class DecodeGroup:
    rows: torch.Tensor | None  # the batch's token rows in this group; None: all of them
    blocks: torch.Tensor  # [B * num_blocks] every sequence's cache blocks, row after row
    num_blocks: int  # per sequence (the block table's width, padded)
    biases: dict[Window, torch.Tensor]  # window -> [B, 1, 1, num_blocks * block_size]: 0 or -inf


@dataclass
class PrefillSequence:
    start: int  # first token row
    query_len: int
    context_len: int
    blocks: torch.Tensor | None  # its cache blocks when part of its context was cached before; else None
    masks: dict[Window, torch.Tensor | None]  # window -> [query_len, context_len] bool; None: causal


@dataclass
class AttentionMetadata:
    write_blocks: torch.Tensor  # [T] the block and the offset in it of each new token's slot
    write_offsets: torch.Tensor
    decode: DecodeGroup | None = None
    prefills: list[PrefillSequence] = field(default_factory=list)


class TorchPagedAttention:
    """The reference backend. q: [T, H, D]; k, v: [T, KV, D]; a layer's cache [2, blocks, KV, block, D]."""

    def __init__(self, num_heads: int, num_kv_heads: int, head_dim: int, scale: float,
                 windows: set[int | None]):
        self.num_heads, self.num_kv_heads, self.head_dim = num_heads, num_kv_heads, head_dim
        self.group_size = num_heads // num_kv_heads
        self.scale = scale
        self.windows = windows

    # -- once per step ------------------------------------------------------------------------------

    def prepare(self, batch: ForwardBatch, block_size: int) -> AttentionMetadata:
        meta = AttentionMetadata(write_blocks=batch.slot_mapping // block_size,
                                 write_offsets=batch.slot_mapping % block_size)
        if batch.is_pure_decode:
            meta.decode = self._decode_group(batch.block_tables, batch.positions, None, block_size,
                                             max(batch.context_lens, default=1))
            return meta
        decode_rows, decode_seqs, start = [], [], 0
        for seq, (query_len, context_len) in enumerate(zip(batch.query_lens, batch.context_lens)):
            if query_len == 1:
                decode_rows.append(start)
                decode_seqs.append(seq)
            elif query_len > 1:
                meta.prefills.append(self._prefill_sequence(batch, seq, start, query_len, context_len, block_size))
            start += query_len
        if decode_rows:
            device = batch.positions.device
            rows = torch.tensor(decode_rows, device=device)
            longest = max(batch.context_lens[s] for s in decode_seqs)
            meta.decode = self._decode_group(batch.block_tables[torch.tensor(decode_seqs, device=device)],
                                             batch.positions[rows], rows, block_size, longest)
        return meta

    def _decode_group(self, block_tables: torch.Tensor, positions: torch.Tensor, rows: torch.Tensor | None,
                      block_size: int, longest: int) -> DecodeGroup:
        device = positions.device
        if device.type == "cpu":
            # Gather only the blocks the longest sequence uses. (Not on CUDA: a captured graph would
            # freeze this width; there the table's own width, fixed by the runner, is used.)
            block_tables = block_tables[:, :-(-longest // block_size)]
        num_blocks = block_tables.shape[1]
        key_positions = torch.arange(num_blocks * block_size, device=device)
        query_positions = positions.unsqueeze(1)
        biases = {}
        for window in self.windows:
            mask = visible_keys(key_positions, query_positions, window)
            bias = torch.zeros(mask.shape, dtype=torch.float32, device=device).masked_fill_(~mask, float("-inf"))
            biases[window] = bias[:, None, None, :]
        return DecodeGroup(rows=rows, blocks=block_tables.reshape(-1).long(), num_blocks=num_blocks, biases=biases)

    def _prefill_sequence(self, batch: ForwardBatch, seq: int, start: int, query_len: int, context_len: int,
                          block_size: int) -> PrefillSequence:
        device = batch.positions.device
        cached = context_len - query_len
        blocks = batch.block_tables[seq, :-(-context_len // block_size)].long() if cached else None
        query_positions = torch.arange(cached, context_len, device=device).unsqueeze(1)
        key_positions = torch.arange(context_len, device=device)
        masks = {}
        for window in self.windows:
            if window is None and not cached:
                masks[window] = None
                continue
            masks[window] = visible_keys(key_positions, query_positions, window)
        return PrefillSequence(start, query_len, context_len, blocks, masks)

    # -- once per layer -----------------------------------------------------------------------------

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cache: torch.Tensor,
                meta: AttentionMetadata, window: int | None = None,
                sinks: torch.Tensor | None = None) -> torch.Tensor:
        """sinks (gpt-oss): [H], one more logit per head in its softmax's denominator, which takes
        probability mass and contributes no value."""
        cache[0][meta.write_blocks, :, meta.write_offsets] = k
        cache[1][meta.write_blocks, :, meta.write_offsets] = v
        if not meta.prefills:
            return self._decode(q, cache, meta.decode, window, sinks)
        out = q.new_empty(q.shape[0], self.num_heads * self.head_dim)
        for p in meta.prefills:
            rows = slice(p.start, p.start + p.query_len)
            if p.blocks is None:
                keys, values = k[rows].transpose(0, 1), v[rows].transpose(0, 1)
            else:
                keys, values = self._gather_context(cache, p.blocks, p.context_len)
            out[rows] = self._prefill(q[rows], keys, values, p.masks[window], sinks)
        if meta.decode is not None:
            out[meta.decode.rows] = self._decode(q[meta.decode.rows], cache, meta.decode, window, sinks)
        return out

    def _gather_context(self, cache: torch.Tensor, blocks: torch.Tensor, context_len: int):
        """One sequence's keys and values, each [KV, context_len, D]."""
        kv = cache.index_select(1, blocks)  # [2, n, KV, block, D]
        kv = kv.transpose(1, 2).reshape(2, self.num_kv_heads, -1, self.head_dim)[:, :, :context_len]
        return kv[0], kv[1]

    def _decode(self, q: torch.Tensor, cache: torch.Tensor, group: DecodeGroup, window: int | None,
                sinks: torch.Tensor | None = None) -> torch.Tensor:
        batch, kv_heads, block_size, head_dim = q.shape[0], self.num_kv_heads, cache.shape[3], self.head_dim
        blocks = (batch, group.num_blocks, kv_heads, block_size, head_dim)
        kv = cache.index_select(1, group.blocks)
        keys, values = kv[0].view(blocks), kv[1].view(blocks)
        # Scores block by block ([B, blocks, KV, H/KV, block]): the query heads that share a kv head
        # are that head's rows, so neither k/v repeats nor the gathered blocks get copied again.
        grouped_q = (q * self.scale).view(batch, 1, kv_heads, self.group_size, head_dim)
        scores = torch.matmul(grouped_q, keys.transpose(-1, -2))
        scores = scores.permute(0, 2, 3, 1, 4).reshape(batch, kv_heads, self.group_size, -1) + group.biases[window]
        # The bias is float32, so bf16/fp16 scores are softmaxed in float32, then cast back for the values.
        sinks = None if sinks is None else sinks.float().view(kv_heads, self.group_size, 1)
        probs = softmax_with_sinks(scores, sinks).to(values.dtype).view(batch, kv_heads, self.group_size,
                                                                        group.num_blocks, block_size)
        out = torch.matmul(probs.permute(0, 3, 1, 2, 4), values).sum(dim=1)  # [B, KV, H/KV, D]
        return out.reshape(batch, self.num_heads * head_dim)

    def _prefill(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                 mask: torch.Tensor | None, sinks: torch.Tensor | None = None) -> torch.Tensor:
        """q [n, H, D]; keys, values [KV, context, D]."""
        if sinks is not None:
            return self._prefill_with_sinks(q, keys, values, mask, sinks)
        out = F.scaled_dot_product_attention(q.transpose(0, 1), keys, values, attn_mask=mask,
                                             is_causal=mask is None, scale=self.scale, enable_gqa=True)
        return out.transpose(0, 1).reshape(q.shape[0], self.num_heads * self.head_dim)

    def _prefill_with_sinks(self, q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
                            mask: torch.Tensor | None, sinks: torch.Tensor) -> torch.Tensor:
        """`_prefill` with explicit scores (SDPA has no sink term), a few query rows at a time so the
        float32 scores stay under SINK_SCORES_BUDGET elements."""
        n, context, kv_heads, head_dim = q.shape[0], keys.shape[1], self.num_kv_heads, self.head_dim
        if mask is None:
            mask = torch.ones(n, context, dtype=torch.bool, device=q.device).tril(context - n)
        grouped_q = (q * self.scale).view(n, kv_heads, self.group_size, head_dim).permute(1, 2, 0, 3)
        keys_t, values = keys.unsqueeze(1).transpose(-1, -2), values.unsqueeze(1)  # per kv head, shared by its group
        sinks = sinks.float().view(kv_heads, self.group_size, 1, 1)
        out = q.new_empty(kv_heads, self.group_size, n, head_dim)
        step = max(1, SINK_SCORES_BUDGET // (self.num_heads * context))
        for start in range(0, n, step):
            rows = slice(start, start + step)
            scores = torch.matmul(grouped_q[:, :, rows], keys_t).float().masked_fill_(~mask[rows], float("-inf"))
            out[:, :, rows] = torch.matmul(softmax_with_sinks(scores, sinks).to(values.dtype), values)
        return out.permute(2, 0, 1, 3).reshape(n, self.num_heads * head_dim)


# The most float32 attention scores (heads x query rows x keys) a prefill with sinks holds at once.
SINK_SCORES_BUDGET = 1 << 26


def softmax_with_sinks(scores: torch.Tensor, sinks: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last dimension; with sinks (broadcast against scores[..., :1]) each row's
    denominator has one more term, exp(sink), that no value goes with."""
    if sinks is None:
        return scores.softmax(dim=-1)
    top = torch.maximum(scores.amax(dim=-1, keepdim=True), sinks)
    weights = (scores - top).exp_()
    return weights.div_(weights.sum(dim=-1, keepdim=True) + (sinks - top).exp())


def select_attention_backend(num_heads: int, num_kv_heads: int, head_dim: int, scale: float,
                             windows: set[int | None], device: torch.device) -> TorchPagedAttention:
    """The seam for device-specific backends (a fused CUDA kernel would plug in here, behind the same
    prepare/forward interface); the torch reference runs everywhere, CUDA included."""
    return TorchPagedAttention(num_heads, num_kv_heads, head_dim, scale, windows)
