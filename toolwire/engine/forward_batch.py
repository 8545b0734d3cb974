"""The contract between the engine (scheduler, model runner) and the model code.

One step of the engine runs the model once over a flat batch of tokens taken from several
sequences: prefill chunks and single decode tokens mixed. The engine lays them out here; the model
writes each token's key/value into the paged cache at its slot and attends over the sequence's
blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ForwardBatch:
    # [T] int64: the new tokens of every sequence in this step, sequence after sequence.
    input_ids: torch.Tensor
    # [T] int64: each token's position in its sequence (0-based).
    positions: torch.Tensor
    # [T] int64: where each new token's key/value goes in the flat cache, block_id * block_size + offset.
    slot_mapping: torch.Tensor
    # [B, max_blocks] int32: the cache blocks of each sequence, in order, padded with 0.
    block_tables: torch.Tensor
    # B python ints: how many new tokens each sequence brings this step.
    query_lens: list[int]
    # B python ints: each sequence's context length after this step (cached + new tokens).
    context_lens: list[int]
    # [B'] int64: indices into T of the tokens whose logits the engine needs (usually each
    # sequence's last new token; none for a prefill chunk that does not finish the prompt).
    logits_indices: torch.Tensor
    # [B] int32 on the model's device: context_lens as a tensor. Under CUDA graphs (pure decode) the
    # Python lists above are frozen at capture time, so the attention must read lengths from here.
    context_lens_tensor: torch.Tensor | None = None

    @property
    def num_tokens(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def is_pure_decode(self) -> bool:
        return all(q == 1 for q in self.query_lens)
