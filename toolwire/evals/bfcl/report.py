"""Figures from judged entries, per category and overall, as a dict and as a table.

Per group of entries (every rate is a share of all the group's entries):

- `accuracy`: judged correct (an entry without a usable response counts as wrong);
- `valid_call_rate`: the response has at least one call, and every call names an offered tool and
  has arguments that are a JSON object valid against the tool's converted schema (jsonschema);
- `no_call_rate`: a response came, with no tool call in it;
- `truncated_rate`: the reply was cut by max_tokens (finish_reason `length`);
- `http_error_rate`: no usable response (HTTP error status, timeout, connection failure, malformed
  body or stream);
- `mean_latency_s`: mean request time over the entries that got a response;
- `mean_output_tokens`: mean reply length (the server's usage.completion_tokens) over those that said;
- `count`.

The overall figures pool all entries (a micro average: categories weigh by their entry counts).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from toolwire.evals.bfcl.runner import EntryResult

METRICS = ("accuracy", "valid_call_rate", "no_call_rate", "truncated_rate", "http_error_rate", "mean_latency_s",
           "mean_output_tokens", "count")


def figures(results: list[EntryResult]) -> dict[str, Any]:
    count = len(results)
    answered = [r.latency_s for r in results if not r.http_error and r.latency_s is not None]
    lengths = [r.completion_tokens for r in results if r.completion_tokens is not None]

    def share(flags: Iterable[bool]) -> float:
        return round(sum(flags) / count, 4) if count else 0.0

    out: dict[str, Any] = {
        "accuracy": share(r.correct for r in results),
        "valid_call_rate": share(r.schema_valid for r in results),
        "no_call_rate": share(r.no_call for r in results),
        "truncated_rate": share(r.truncated for r in results),
        "http_error_rate": share(r.http_error for r in results),
        "mean_latency_s": round(sum(answered) / len(answered), 4) if answered else None,
        "mean_output_tokens": round(sum(lengths) / len(lengths), 1) if lengths else None,
        "count": count,
    }
    errors = Counter(r.error_kind for r in results if r.error_kind)
    if errors:
        out["errors"] = dict(errors)
    return out


def summarize(results: list[EntryResult], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The summary: overall figures, a `categories` map of per-category figures (in first-seen
    order), and the run's configuration under `config`."""
    by_category: dict[str, list[EntryResult]] = {}
    for result in results:
        by_category.setdefault(result.category, []).append(result)
    summary = figures(results)
    summary["categories"] = {name: figures(group) for name, group in by_category.items()}
    if config is not None:
        summary["config"] = config
    return summary


def table(summary: dict[str, Any]) -> str:
    header = ["category", "count", "accuracy", "valid_calls", "no_call", "truncated", "http_error", "latency_s", "out_tokens"]
    rows = [[name, *(_cells(figs))] for name, figs in summary["categories"].items()]
    if len(summary["categories"]) > 1:
        rows.append(["overall", *_cells(summary)])
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[Any]) -> str:
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)])


def _cells(figs: dict[str, Any]) -> list[str]:
    latency, tokens = figs["mean_latency_s"], figs["mean_output_tokens"]
    return [str(figs["count"]), f"{figs['accuracy']:.3f}", f"{figs['valid_call_rate']:.1%}",
            f"{figs['no_call_rate']:.1%}", f"{figs['truncated_rate']:.1%}", f"{figs['http_error_rate']:.1%}",
            "-" if latency is None else f"{latency:.2f}", "-" if tokens is None else f"{tokens:.1f}"]
