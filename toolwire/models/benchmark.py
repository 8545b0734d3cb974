"""Micro-benchmark of the bare model: greedy decode loops through `forward` over a paged KV cache.

    python -m toolwire.models.benchmark [--model PATH] [--batch 1 8 32] [--weights auto exact int8/bf16 ...]

Prints one JSON line per (weights, batch size): decode tokens per second (all sequences together,
logits and argmax included), and the prefill rate. `--weights`: as `toolwire serve --weights`
("auto": the file's own weights, quantized GGUF blocks included; DECODE/BATCH: the weights used
for batches of at most --decode-max-rows rows / for bigger ones). No engine, scheduler or sampler.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from toolwire.engine.forward_batch import ForwardBatch


def _batch(tokens: list[list[int]], starts: list[int], tables: list[list[int]], block_size: int) -> ForwardBatch:
    ids, positions, slots, query_lens, context_lens, last = [], [], [], [], [], []
    for seq_tokens, start, table in zip(tokens, starts, tables):
        for offset, token in enumerate(seq_tokens):
            p = start + offset
            ids.append(token)
            positions.append(p)
            slots.append(table[p // block_size] * block_size + p % block_size)
        query_lens.append(len(seq_tokens))
        context_lens.append(start + len(seq_tokens))
        last.append(len(ids) - 1)
    width = max(len(t) for t in tables)
    return ForwardBatch(
        input_ids=torch.tensor(ids), positions=torch.tensor(positions), slot_mapping=torch.tensor(slots),
        block_tables=torch.tensor([t + [0] * (width - len(t)) for t in tables], dtype=torch.int32),
        query_lens=query_lens, context_lens=context_lens, logits_indices=torch.tensor(last),
        context_lens_tensor=torch.tensor(context_lens, dtype=torch.int32))


def run_decode(model, batch_size: int, prompt_len: int, steps: int, block_size: int = 16) -> dict:
    blocks_per_seq = -(-(prompt_len + steps) // block_size)
    cache = model.make_kv_cache(1 + batch_size * blocks_per_seq, block_size)
    tables = [list(range(1 + s * blocks_per_seq, 1 + (s + 1) * blocks_per_seq)) for s in range(batch_size)]
    generator = torch.Generator().manual_seed(0)
    prompts = torch.randint(100, model.config.vocab_size, (batch_size, prompt_len), generator=generator).tolist()
    with torch.inference_mode():
        started = time.perf_counter()
        for s in range(batch_size):  # prefill one sequence at a time, as the engine's token budget would
            batch = _batch([prompts[s]], [0], [tables[s]], block_size)
            model.compute_logits(model.forward(batch, cache)[batch.logits_indices])
        prefill_s = time.perf_counter() - started
        next_tokens = [p[-1] for p in prompts]
        step_times = []
        for step in range(steps):
            batch = _batch([[t] for t in next_tokens], [prompt_len + step] * batch_size, tables, block_size)
            started = time.perf_counter()
            logits = model.compute_logits(model.forward(batch, cache)[batch.logits_indices])
            next_tokens = logits.argmax(dim=-1).tolist()
            step_times.append(time.perf_counter() - started)
    step_times = step_times[2:]  # warm-up
    median = sorted(step_times)[len(step_times) // 2]
    return {"batch": batch_size, "decode_tok_s": round(batch_size * len(step_times) / sum(step_times), 1),
            "decode_tok_s_median_step": round(batch_size / median, 1),
            "step_ms_min": round(1000 * min(step_times), 2), "step_ms_median": round(1000 * median, 2),
            "prefill_tok_s": round(batch_size * prompt_len / prefill_s, 1)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="GGUF file or HF folder (default: SmolLM2-135M GGUF)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--weights", nargs="+", default=["auto", "exact"])
    parser.add_argument("--decode-max-rows", type=int, default=None)
    parser.add_argument("--prompt-len", type=int, default=64)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from toolwire.models import load_model
    from toolwire.models.llama import DEFAULT_DECODE_MAX_ROWS

    max_rows = args.decode_max_rows or DEFAULT_DECODE_MAX_ROWS
    for weights in args.weights:
        loaded = load_model(args.model, device="cpu", weights="auto" if weights == "auto" else "exact", progress=False)
        if weights != "auto":
            decode, _, batch = weights.partition("/")
            with torch.inference_mode():
                loaded.model.set_matmul_weights(decode, batch or decode, max_rows)
        for batch_size in args.batch:
            result = run_decode(loaded.model, batch_size, args.prompt_len, args.steps)
            print(json.dumps({"weights": weights, "decode_max_rows": max_rows, "threads": args.threads, **result}),
                  flush=True)


if __name__ == "__main__":
    main()
