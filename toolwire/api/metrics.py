"""Prometheus metrics in the text exposition format, written by hand (no extra dependency).

Counters and histograms are updated by the request handlers; the engine's gauges (running and
waiting sequences, KV-cache blocks) and its own counters (preemptions, aborted and failed sequences,
failed steps) are read from the engine when /metrics is scraped.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from typing import Any

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384)


def _labels(labels: tuple[tuple[str, str], ...], extra: tuple[tuple[str, str], ...] = ()) -> str:
    items = labels + extra
    if not items:
        return ""
    escaped = (f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
               for k, v in items)
    return "{" + ",".join(escaped) + "}"


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class Counter:
    def __init__(self, name: str, help_text: str):
        self.name, self.help = name, help_text
        self.values: dict[tuple, float] = defaultdict(float)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        self.values[tuple(sorted(labels.items()))] += amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for labels, value in sorted(self.values.items()):
            lines.append(f"{self.name}{_labels(labels)} {_number(value)}")
        return lines


class Histogram:
    def __init__(self, name: str, help_text: str, buckets: tuple[float, ...]):
        self.name, self.help, self.buckets = name, help_text, tuple(buckets)
        self.series: dict[tuple, list] = {}

    def observe(self, value: float, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        series = self.series.setdefault(key, [[0] * len(self.buckets), 0.0, 0])
        index = bisect.bisect_left(self.buckets, value)
        if index < len(self.buckets):
            series[0][index] += 1
        series[1] += value
        series[2] += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for labels, (counts, total, count) in sorted(self.series.items()):
            cumulative = 0
            for bound, bucket_count in zip(self.buckets, counts):
                cumulative += bucket_count
                lines.append(f"{self.name}_bucket{_labels(labels, (('le', _number(bound)),))} {cumulative}")
            lines.append(f"{self.name}_bucket{_labels(labels, (('le', '+Inf'),))} {count}")
            lines.append(f"{self.name}_sum{_labels(labels)} {_number(total)}")
            lines.append(f"{self.name}_count{_labels(labels)} {count}")
        return lines


# Counters the engine keeps itself (read from its stats when scraped): (name, help, stats key).
_ENGINE_COUNTERS = (
    ("toolwire_num_preemptions_total",
     "Sequences preempted because the KV cache was full (computed again later).", "num_preemptions"),
    ("toolwire_aborted_sequences_total",
     "Sequences ended before they finished (client gone, request aborted).", "num_aborted_seqs"),
    ("toolwire_sequence_errors_total",
     "Sequences ended by a failure in their own computation (finish_reason error); the rest of the "
     "batch went on.", "num_failed_seqs"),
    ("toolwire_engine_step_errors_total",
     "Engine steps that failed as a whole (every request in flight ended).", "num_step_errors"),
)


class Metrics:
    """The server's metrics; `engine_stats` returns the engine's gauges as a dict when scraped."""

    def __init__(self, model_name: str, kernel_choices: Any = None):
        self.model_name = model_name
        self.kernel_choices = kernel_choices  # models.kernel_choice.KernelChoices, when weights are kept quantized
        self._lock = threading.Lock()
        self.requests = Counter("toolwire_requests_total", "HTTP requests by endpoint and status code.")
        self.request_latency = Histogram(
            "toolwire_request_duration_seconds", "Time from request arrival to its last byte.", _LATENCY_BUCKETS)
        self.first_token_latency = Histogram(
            "toolwire_time_to_first_token_seconds", "Time from request arrival to its first generated token.",
            _LATENCY_BUCKETS)
        self.prompt_tokens = Counter("toolwire_prompt_tokens_total", "Prompt tokens processed.")
        self.generation_tokens = Counter("toolwire_generation_tokens_total", "Tokens generated.")
        self.cached_prompt_tokens = Counter("toolwire_prefix_cache_hit_tokens_total",
                                            "Prompt tokens whose KV came from the prefix cache.")
        self.request_prompt_tokens = Histogram(
            "toolwire_request_prompt_tokens", "Prompt length of each request.", _TOKEN_BUCKETS)
        self.request_generation_tokens = Histogram(
            "toolwire_request_generation_tokens", "Tokens generated per request (all choices).", _TOKEN_BUCKETS)
        self.finished = Counter("toolwire_request_finished_total", "Finished choices by finish reason.")
        self.aborted = Counter("toolwire_requests_aborted_total", "Requests aborted (client gone).")
        self.tool_calls = Counter("toolwire_tool_calls_total", "Tool calls returned to clients.")
        self.rejected = Counter("toolwire_requests_rejected_total",
                                "Requests refused before any work, by reason (queue_full, server_shutting_down).")
        self.queue_time = Histogram("toolwire_request_queue_time_seconds",
                                    "Time a sequence waited in the engine's queue before its first step.",
                                    _LATENCY_BUCKETS)

    def record_request(self, endpoint: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests.inc(endpoint=endpoint, status=str(status))
            self.request_latency.observe(seconds, endpoint=endpoint)

    def record_first_token(self, seconds: float) -> None:
        with self._lock:
            self.first_token_latency.observe(seconds, model=self.model_name)

    def record_usage(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> None:
        with self._lock:
            self.prompt_tokens.inc(prompt_tokens, model=self.model_name)
            self.cached_prompt_tokens.inc(cached_tokens, model=self.model_name)
            self.generation_tokens.inc(completion_tokens, model=self.model_name)
            self.request_prompt_tokens.observe(prompt_tokens, model=self.model_name)
            self.request_generation_tokens.observe(completion_tokens, model=self.model_name)

    def record_finish(self, reason: str | None, tool_calls: int = 0) -> None:
        with self._lock:
            self.finished.inc(reason=reason or "unknown", model=self.model_name)
            if tool_calls:
                self.tool_calls.inc(tool_calls, model=self.model_name)

    def record_abort(self) -> None:
        with self._lock:
            self.aborted.inc(model=self.model_name)

    def record_rejection(self, reason: str) -> None:
        with self._lock:
            self.rejected.inc(reason=reason, model=self.model_name)

    def record_queue_time(self, seconds: float) -> None:
        """Called on the engine thread (hence the lock)."""
        with self._lock:
            self.queue_time.observe(seconds, model=self.model_name)

    def _kernel_lines(self) -> list[str]:
        """Which matmul path each quantized weight takes, as chosen at start-up (an info metric:
        the labels are the facts, the value is 1)."""
        choices = self.kernel_choices
        if choices is None:
            return []
        name = "toolwire_quantized_matmul_path_info"
        lines = [f"# HELP {name} The matmul path (fused, tiled or dense) each quantized weight layout and "
                 f"shape takes from from_rows token rows on, as timed at start-up.",
                 f"# TYPE {name} gauge"]
        for weight, paths in choices.paths.items():
            for rows, path in paths:
                labels = (("model", self.model_name), ("weight", weight), ("cpu", choices.cpu),
                          ("threads", str(choices.threads)), ("from_rows", str(rows)), ("path", path))
                lines.append(f"{name}{_labels(labels)} 1")
        return lines

    def render(self, engine_stats: dict[str, Any] | None = None) -> str:
        """The exposition text; engine_stats are the engine's gauges, read by the caller."""
        with self._lock:
            lines: list[str] = []
            for metric in (self.requests, self.request_latency, self.first_token_latency, self.prompt_tokens,
                           self.generation_tokens, self.cached_prompt_tokens, self.request_prompt_tokens, self.request_generation_tokens,
                           self.finished, self.aborted, self.tool_calls, self.rejected, self.queue_time):
                lines += metric.render()
        stats = dict(engine_stats or {})
        usable = stats.get("num_usable_blocks")
        if usable and stats.get("num_free_blocks") is not None:
            stats["kv_cache_usage"] = 1.0 - stats["num_free_blocks"] / usable
        gauges = [
            ("toolwire_num_requests_running", "Sequences being generated now.", "num_running"),
            ("toolwire_num_requests_waiting", "Sequences waiting to be scheduled.", "num_waiting"),
            ("toolwire_kv_cache_usage_perc", "Fraction of KV-cache blocks in use (0 to 1).", "kv_cache_usage"),
            ("toolwire_kv_cache_free_blocks", "KV-cache blocks free now.", "num_free_blocks"),
            ("toolwire_kv_cache_usable_blocks", "KV-cache blocks that sequences can use.", "num_usable_blocks"),
        ]
        labels = (("model", self.model_name),)
        for name, help_text, key in gauges:
            if key in stats and stats[key] is not None:
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge",
                          f"{name}{_labels(labels)} {_number(float(stats[key]))}"]
        lines += self._kernel_lines()
        for name, help_text, key in _ENGINE_COUNTERS:
            if stats.get(key) is not None:
                lines += [f"# HELP {name} {help_text}", f"# TYPE {name} counter",
                          f"{name}{_labels(labels)} {_number(float(stats[key]))}"]
        return "\n".join(lines) + "\n"
