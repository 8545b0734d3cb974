"""Which matmul path each quantized weight takes, decided by timing both on this machine.

For every distinct weight signature (layouts and shape) of the model, `choose_paths` times the
"fused", "tiled" and "dense" paths (quantized.py) at growing batch sizes and gives each weight the
fastest path per size (a size between two timed ones takes the smaller one's). The result is cached in ~/.cache/toolwire/kernel-choices.json under the CPU model, thread count, torch
version and kernel library, so a restart on the same machine reads it instead of timing again.
Both paths are faithful to the weights; the choice is only about speed.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field

import torch

from toolwire.models import native_kernels
from toolwire.models.quantized import PATHS, QuantizedWeight

logger = logging.getLogger("toolwire.models")

BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
REPEATS = 3  # runs per timing (the fastest counts); one run past SLOW_RUN_SECONDS counts alone
SLOW_RUN_SECONDS = 0.005
# Timing one weight stops at the first batch size past this many seconds (the largest weights,
# a vocabulary's lm_head, would otherwise take tens of seconds); larger sizes keep the last answer.
SECONDS_PER_WEIGHT = 1.5
CACHE_FILE = "kernel-choices-v3.json"


@dataclass
class KernelChoices:
    """What was chosen, for the start-up log and /metrics."""
    cpu: str
    threads: int
    # weight description -> [(from this many token rows, path)], ascending
    paths: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    measured: bool = False  # False: read from the cache
    seconds: float = 0.0

    def summary(self) -> str:
        parts = [f"{name}: " + ", ".join(f"{path} from {rows}" for rows, path in paths)
                 for name, paths in self.paths.items()]
        source = f"measured in {self.seconds:.1f} s" if self.measured else "cached"
        return f"quantized matmul paths on {self.cpu}, {self.threads} threads ({source}): " + "; ".join(parts)


def _time(weight: QuantizedWeight, path: str, x: torch.Tensor) -> float:
    weight.matmul(x, path)
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        weight.matmul(x, path)
        best = min(best, time.perf_counter() - started)
        if best > SLOW_RUN_SECONDS:
            break
    return best


def measure(weight: QuantizedWeight, max_rows: int) -> list[tuple[int, str]]:
    """[(from rows, fastest path)] over BATCH_SIZES up to max_rows, runs of one path merged."""
    generator = torch.Generator().manual_seed(0)
    fastest: list[tuple[int, str]] = []
    started = time.perf_counter()
    for rows in (r for r in BATCH_SIZES if r <= max_rows):
        x = torch.randn(rows, weight.in_features, generator=generator)
        path = min(PATHS, key=lambda p: _time(weight, p, x))
        if not fastest or fastest[-1][1] != path:
            fastest.append((rows, path))
        if time.perf_counter() - started > SECONDS_PER_WEIGHT:
            break
    return fastest


def _cache_key(threads: int) -> str:
    library = native_kernels.library_path().name
    return f"{native_kernels.cpu_model()}|threads={threads}|torch={torch.__version__}|{library}"


def _read_cache() -> dict:
    path = native_kernels.cache_dir() / CACHE_FILE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_cache(cache: dict) -> None:
    path = native_kernels.cache_dir() / CACHE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(f".{os.getpid()}.tmp")
    scratch.write_text(json.dumps(cache, indent=1, sort_keys=True))
    os.replace(scratch, path)


def choose_paths(weights: list[QuantizedWeight], max_rows: int) -> KernelChoices:
    """Set every weight's paths; max_rows: the most token rows one step multiplies."""
    threads = torch.get_num_threads()
    key = _cache_key(threads)
    cache = _read_cache()
    known: dict = cache.setdefault(key, {})
    choices = KernelChoices(native_kernels.cpu_model(), threads)
    started = time.perf_counter()
    by_signature: dict[str, list[QuantizedWeight]] = {}
    for weight in weights:
        by_signature.setdefault(f"{weight.signature()}|max{max_rows}", []).append(weight)
    for signature, group in by_signature.items():
        if signature not in known:
            with torch.inference_mode():
                known[signature] = measure(group[0], max_rows)
            choices.measured = True
        paths = [(int(rows), str(path)) for rows, path in known[signature]]
        for weight in group:
            weight.paths = paths
        choices.paths[group[0].describe()] = paths
    choices.seconds = time.perf_counter() - started
    if choices.measured:
        try:
            _write_cache(cache)
        except OSError as error:
            logger.warning("could not cache the kernel choices: %s", error)
    return choices
