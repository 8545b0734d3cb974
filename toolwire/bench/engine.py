"""`toolwire bench-engine`: the engine in-process on a model, printed as JSON lines.

For each concurrency level, that many requests start together, each asking for a fixed number of
tokens (ignore_eos, greedy) after a short chat-like prompt. Reported: output tokens/s, mean time to
first token, mean time per output token after the first; plus the model's ready time and peak RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import resource
import sys
import time

MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Write a short story about a lighthouse keeper and a storm."},
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="toolwire bench-engine", description=__doc__)
    parser.add_argument("--concurrency", default="1,8,32", help="comma-separated request counts")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    engine = parser.add_argument_group("engine", "as `toolwire serve` has them, with the same defaults",
                                       argument_default=argparse.SUPPRESS)
    engine.add_argument("--model", help="model path or id (default: SmolLM2-135M-Instruct)")
    engine.add_argument("--dtype")
    engine.add_argument("--device")
    engine.add_argument("--weights", help="as `toolwire serve --weights` (CPU only)")
    engine.add_argument("--kv-cache-memory", type=float, help="GiB")
    engine.add_argument("--max-num-seqs", type=int)
    engine.add_argument("--max-num-batched-tokens", type=int)
    engine.add_argument("--enforce-eager", action="store_true")
    return parser.parse_args(argv)


def prompt_ids(loaded_model) -> list[int]:
    tokenizer = loaded_model.tokenizer
    template = getattr(loaded_model, "chat_template", None) or getattr(tokenizer, "chat_template", None)
    if template:
        text = tokenizer.apply_chat_template(MESSAGES, chat_template=template, tokenize=False,
                                             add_generation_prompt=True)
    else:
        text = "".join(f"{m['role']}: {m['content']}\n" for m in MESSAGES) + "assistant:"
    return tokenizer.encode(text, add_special_tokens=False)


async def run_level(engine, prompt: list[int], concurrency: int, max_tokens: int) -> dict:
    from toolwire.engine import SamplingParams

    params = SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True)
    start = time.perf_counter()

    async def one(i: int) -> tuple[float, float, int]:
        first = last = None
        count = 0
        async for output in engine.generate(prompt, params, request_id=f"bench-{concurrency}-{i}"):
            last = time.perf_counter()
            first = first or last
            count += len(output.new_token_ids)
        return first - start, last - first, count

    results = await asyncio.gather(*(one(i) for i in range(concurrency)))
    wall = time.perf_counter() - start
    total = sum(count for _, _, count in results)
    return {
        "bench": "engine", "concurrency": concurrency, "max_tokens": max_tokens,
        "prompt_tokens": len(prompt), "output_tokens": total,
        "output_tokens_per_s": round(total / wall, 2),
        "mean_ttft_ms": round(1000 * sum(r[0] for r in results) / concurrency, 1),
        "mean_tpot_ms": round(1000 * sum(r[1] / max(1, r[2] - 1) for r in results) / concurrency, 2),
        "wall_s": round(wall, 3),
    }


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux


def emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from toolwire.engine import AsyncEngine, EngineConfig

    config = EngineConfig.from_options(vars(args))
    started = time.perf_counter()
    loaded = config.load_model()
    engine = AsyncEngine(config, loaded)
    ready = time.perf_counter() - started
    emit({"bench": "engine", "ready_s": round(ready, 2), "device": str(engine.engine.device),
          "weights": dataclasses.asdict(loaded.model.matmul_weights),
          "torch_threads": torch.get_num_threads(), "max_model_len": engine.max_model_len})
    prompt = prompt_ids(engine.engine.loaded_model)
    try:
        asyncio.run(run_level(engine, prompt, 1, 8))  # warm-up: first-call costs stay out of the figures
        for level in (int(c) for c in args.concurrency.split(",")):
            emit(asyncio.run(run_level(engine, prompt, level, args.max_tokens)))
    finally:
        engine.shutdown()
    emit({"bench": "engine", "peak_rss_gib": round(peak_rss_gib(), 3)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
