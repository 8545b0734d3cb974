"""CUDA graphs for decode steps: one graph per captured batch size, batches padded up to the next.

The graphs read their inputs from static tensors sized for the largest batch and a full-length block
table; each run copies the step's inputs into them and replays. Padding rows write their key/value
into the reserved null block 0 and attend over one slot of it. The model's decode path has to be
capturable: it must take lengths from `context_lens_tensor`, not from the Python lists, and never
wait on the device. A model whose decode step does (a mixture of experts' dispatch) names why in
`cuda_graph_blocker()`, and the engine runs it eagerly.
"""

from __future__ import annotations

import bisect

import torch

from toolwire.engine.forward_batch import ForwardBatch


def default_graph_batch_sizes(max_num_seqs: int) -> list[int]:
    sizes = [1, 2, 4, 8] + list(range(16, max_num_seqs + 1, 16))
    return sorted({s for s in sizes if s <= max_num_seqs} | {max_num_seqs})


class DecodeGraphs:
    def __init__(self, model, kv_cache, batch_sizes: list[int], max_blocks_per_seq: int,
                 device: torch.device):
        self.model = model
        self.kv_cache = kv_cache
        self.batch_sizes = sorted(batch_sizes)
        self.max_blocks_per_seq = max_blocks_per_seq
        largest = self.batch_sizes[-1]
        self.input_ids = torch.zeros(largest, dtype=torch.long, device=device)
        self.positions = torch.zeros(largest, dtype=torch.long, device=device)
        self.slot_mapping = torch.zeros(largest, dtype=torch.long, device=device)
        self.block_tables = torch.zeros(largest, max_blocks_per_seq, dtype=torch.int32, device=device)
        self.context_lens = torch.ones(largest, dtype=torch.int32, device=device)
        self.logits_indices = torch.arange(largest, dtype=torch.long, device=device)
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self.outputs: dict[int, torch.Tensor] = {}
        self._capture_all()

    def _static_batch(self, size: int) -> ForwardBatch:
        return ForwardBatch(
            input_ids=self.input_ids[:size], positions=self.positions[:size],
            slot_mapping=self.slot_mapping[:size], block_tables=self.block_tables[:size],
            query_lens=[1] * size, context_lens=[1] * size,
            logits_indices=self.logits_indices[:size], context_lens_tensor=self.context_lens[:size])

    @torch.inference_mode()
    def _capture_all(self) -> None:
        pool = None
        # Largest first, so the smaller graphs fit in the memory pool the largest one allocated.
        for size in reversed(self.batch_sizes):
            batch = self._static_batch(size)
            # Warm up on a side stream, as capture wants lazy initialisations done beforehand.
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.model.forward(batch, self.kv_cache)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool):
                self.outputs[size] = self.model.forward(batch, self.kv_cache)
            pool = graph.pool()
            self.graphs[size] = graph
        torch.cuda.synchronize()

    def can_run(self, batch: ForwardBatch) -> bool:
        return (batch.is_pure_decode and batch.num_tokens <= self.batch_sizes[-1]
                and batch.block_tables.shape[1] <= self.max_blocks_per_seq)

    def run(self, batch: ForwardBatch) -> torch.Tensor:
        real = batch.num_tokens
        size = self.batch_sizes[bisect.bisect_left(self.batch_sizes, real)]
        width = batch.block_tables.shape[1]
        self.input_ids[:real].copy_(batch.input_ids)
        self.positions[:real].copy_(batch.positions)
        self.slot_mapping[:real].copy_(batch.slot_mapping)
        self.block_tables[:real, :width].copy_(batch.block_tables)
        self.block_tables[:real, width:].zero_()
        self.context_lens[:real].copy_(batch.context_lens_tensor)
        # Padding rows: token 0 at position 0, written to and read from the null block's slot 0.
        self.input_ids[real:size].zero_()
        self.positions[real:size].zero_()
        self.slot_mapping[real:size].zero_()
        self.block_tables[real:size].zero_()
        self.context_lens[real:size].fill_(1)
        self.graphs[size].replay()
        return self.outputs[size][:real]
