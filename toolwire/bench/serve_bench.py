"""`toolwire bench`: load an OpenAI-compatible server with streaming chat requests and measure it.

For each concurrency level, that many client streams run side by side (closed loop: each starts its
next request as soon as its last one ends) until the level's request count is done. Per level it
reports output tokens/s and requests/s over the level's wall time, time to first token (TTFT) and
time per output token after the first (TPOT = (latency - TTFT) / (output tokens - 1)) at p50/p99,
and failures by kind: `http_<status>`, `timeout`, `connection`, `malformed_stream` (bad JSON, or the
stream ended before `[DONE]` without a finish reason), `stream_error` (an error object mid-stream).

Output tokens are the `usage.completion_tokens` of the final chunk, asked for with
`stream_options: {"include_usage": true}`; a server that sends no usage is measured by counting the
chunks that carry generated text (content, reasoning or tool-call pieces), one token each, which
undercounts a server that packs several tokens into one chunk. Each level says which it used
(`token_count_source`).

Only standard OpenAI fields are sent, plus `ignore_eos: true` (vLLM, SGLang, llama-server and
toolwire honour it, so every reply runs to --max-tokens). Before the first level one probe request
checks that the server accepts it; one that answers 400/422 is asked again without it (and then
without `stream_options`), and the summary's `notes` says what was dropped. `--no-ignore-eos` never
sends it. A server that silently ignores it shows in `finish_reasons` and `mean_output_tokens`.

Prompts are ~--prompt-tokens tokens of words drawn at random per request (seeded, so runs repeat and
requests do not share a cacheable prefix beyond the chat template), or the text of --prompt-file.
`--tools weather` adds a weather tool and asks about a city; `--tools bfcl` sends BFCL simple_python
questions with their tools (the prompt length options do not apply then).

With `--against URL` the same load (same prompts, same levels) then runs against a second server,
one after the other, never both at once; the output adds its table and, per level, the ratios
first / second of output tokens/s and prompt tokens/s and second / first of TTFT and TPOT p50
(above 1: the first server is better), and the summary holds both runs and the ratios.

The table goes to stdout, the progress bar to stderr, and the last line of stdout is the summary
as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from toolwire.client.stream import ChoiceFinished, StreamAssembler
from toolwire.evals.progress import ProgressBar
from toolwire.evals.wire import (
    DONE, StreamError, auth_headers, error_kind, error_message, first_model, normalize_base_url,
    percentile, sse_payloads,
)

WORDS = (
    "time person year way day thing man world life hand part child eye woman place work week case "
    "point number group problem fact river mountain garden window market letter music story ocean "
    "forest city bridge road light stone paper table house night water friend teacher morning field "
    "summer winter animal bird tree flower school book language history science family country "
    "village island harbor train journey dream question answer color voice silence memory "
    "lantern castle valley meadow thunder candle mirror"
).split()
INSTRUCTION = "Write a long story that uses all of these words:"
INSTRUCTION_TOKENS = 12  # the instruction and the chat template's framing, roughly
CITIES = ["San Francisco, CA", "Paris, France", "Tokyo, Japan", "Nairobi, Kenya", "Lima, Peru",
          "Oslo, Norway", "Cairo, Egypt", "Sydney, Australia"]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City and state, e.g. 'San Francisco, CA'"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}


# ---------------------------------------------------------------- requests


@dataclass
class Workload:
    """Everything that shapes the request bodies."""

    model: str
    max_tokens: int
    temperature: float
    prompts: list[list[dict[str, Any]]]  # messages, used round-robin
    tools: list[list[dict[str, Any]]] | None  # per prompt, or None
    tool_choice: Any = None
    ignore_eos: bool = True
    include_usage: bool = True

    def body(self, index: int, *, max_tokens: int | None = None) -> dict[str, Any]:
        k = index % len(self.prompts)
        body: dict[str, Any] = {
            "model": self.model,
            "messages": self.prompts[k],
            "max_tokens": max_tokens or self.max_tokens,
            "temperature": self.temperature,
            "stream": True,
        }
        if self.include_usage:
            body["stream_options"] = {"include_usage": True}
        if self.tools is not None:
            body["tools"] = self.tools[k]
            if self.tool_choice is not None:
                body["tool_choice"] = self.tool_choice
        if self.ignore_eos:
            body["ignore_eos"] = True
        return body


def word_prompt(tokens: int, rng: random.Random) -> str:
    count = max(1, tokens - INSTRUCTION_TOKENS)
    return f"{INSTRUCTION} " + " ".join(rng.choice(WORDS) for _ in range(count))


Messages = list[dict[str, Any]]


def build_prompts(args: argparse.Namespace, count: int) -> tuple[list[Messages], list[list[Any]] | None, str]:
    """`count` message lists, the tools for each (None without --tools), and where they came from."""
    rng = random.Random(args.seed)
    if args.tools == "bfcl":
        from toolwire.evals.bfcl.data import find_data_dir, load_category
        from toolwire.evals.bfcl.schema import to_openai_tools

        entries = load_category(find_data_dir(args.data_dir), "simple_python", count)
        return ([e.messages for e in entries], [to_openai_tools(e.functions)[0] for e in entries],
                "bfcl simple_python")
    if args.prompt_file:
        text = Path(args.prompt_file).read_text(encoding="utf-8")
        texts, source = [text] * count, f"file {args.prompt_file}"
    else:
        texts, source = [word_prompt(args.prompt_tokens, rng) for _ in range(count)], "random words"
    if args.tools == "weather":
        prompts = [[{"role": "user", "content": f"{t}\n\nWhat is the weather like in {CITIES[i % len(CITIES)]}?"}]
                   for i, t in enumerate(texts)]
        return prompts, [[WEATHER_TOOL]] * count, source + " + weather question"
    return [[{"role": "user", "content": t}] for t in texts], None, source


def tool_choice_value(choice: str | None) -> Any:
    if choice is None or choice in ("auto", "required", "none"):
        return choice
    return {"type": "function", "function": {"name": choice}}


# ---------------------------------------------------------------- one request


@dataclass
class RequestRecord:
    index: int
    concurrency: int
    ok: bool = False
    error_kind: str | None = None
    error: str | None = None
    ttft_s: float | None = None
    latency_s: float | None = None
    output_tokens: int = 0
    token_count_source: str | None = None  # usage | deltas
    prompt_tokens: int | None = None
    finish_reason: str | None = None
    tool_calls: int = 0

    @property
    def tpot_s(self) -> float | None:
        if not self.ok or self.ttft_s is None or self.latency_s is None or self.output_tokens < 2:
            return None
        return (self.latency_s - self.ttft_s) / (self.output_tokens - 1)


async def stream_one(client: httpx.AsyncClient, url: str, body: dict[str, Any], record: RequestRecord,
                     headers: dict[str, str]) -> RequestRecord:
    """Send one streaming request and fill `record` with its timings (or its error)."""
    assembler = StreamAssembler()
    chunks = deltas = 0
    done = False
    start = time.perf_counter()
    try:
        async with client.stream("POST", url, json=body, headers=headers) as response:
            if response.status_code >= 400:
                await response.aread()
                record.error = f"HTTP {response.status_code}: {error_message(response)}"
                response.raise_for_status()
            async for payload in sse_payloads(response):
                if payload is DONE:
                    done = True
                    break
                chunks += 1
                events = assembler.feed(payload)
                if any(not isinstance(e, ChoiceFinished) for e in events):
                    deltas += 1
                    if record.ttft_s is None:
                        record.ttft_s = time.perf_counter() - start
        record.latency_s = time.perf_counter() - start
        choice = assembler.choice(0)
        record.finish_reason = choice.finish_reason
        if not done and choice.finish_reason is None:
            raise StreamError("malformed_stream", f"the stream ended after {chunks} chunk(s) without "
                                                  "[DONE] or a finish reason")
    except (httpx.HTTPError, StreamError, json.JSONDecodeError) as exc:
        record.latency_s = time.perf_counter() - start
        record.error_kind = error_kind(exc)
        record.error = record.error or f"{record.error_kind}: {exc}"
        return record
    usage = assembler.usage if isinstance(assembler.usage, dict) else None
    if usage and isinstance(usage.get("completion_tokens"), int):
        record.output_tokens, record.token_count_source = usage["completion_tokens"], "usage"
        record.prompt_tokens = usage.get("prompt_tokens")
    else:
        record.output_tokens, record.token_count_source = deltas, "deltas"
    record.tool_calls = len(choice.calls)
    record.ok = True
    return record


# ---------------------------------------------------------------- a level


async def run_level(base_url: str, workload: Workload, concurrency: int, requests: int, *,
                    headers: dict[str, str], timeout_s: float, first_index: int = 0,
                    progress: bool = True) -> tuple[dict[str, Any], list[RequestRecord]]:
    url = f"{base_url}/chat/completions"
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    timeout = httpx.Timeout(timeout_s, connect=min(30.0, timeout_s))
    bar = ProgressBar(requests, f"c={concurrency}", enabled=progress)
    records: list[RequestRecord] = []
    queue = iter(range(requests))

    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        async def stream_worker() -> None:
            for i in queue:  # the shared iterator hands each index to exactly one worker
                record = RequestRecord(index=first_index + i, concurrency=concurrency)
                await stream_one(client, url, workload.body(first_index + i), record, headers)
                records.append(record)
                bar.advance(record.ok)

        started = time.perf_counter()
        try:
            await asyncio.gather(*(stream_worker() for _ in range(min(concurrency, requests))))
        finally:
            bar.close()
        duration = time.perf_counter() - started
    return level_figures(concurrency, requests, duration, records), records


def level_figures(concurrency: int, requests: int, duration_s: float, records: list[RequestRecord]) -> dict[str, Any]:
    ok = [r for r in records if r.ok]
    output_tokens = sum(r.output_tokens for r in ok)
    sources = {r.token_count_source for r in ok}
    prompt_tokens = [r.prompt_tokens for r in ok if isinstance(r.prompt_tokens, int)]
    figures: dict[str, Any] = {
        "concurrency": concurrency,
        "requests": requests,
        "completed": len(ok),
        "failed": len(records) - len(ok),
        "duration_s": round(duration_s, 3),
        "output_tokens": output_tokens,
        "output_tokens_per_s": round(output_tokens / duration_s, 2) if duration_s > 0 else None,
        "prompt_tokens_per_s": round(sum(prompt_tokens) / duration_s, 2) if duration_s > 0 and prompt_tokens else None,
        "requests_per_s": round(len(ok) / duration_s, 3) if duration_s > 0 else None,
        "ttft_ms": _stats([r.ttft_s for r in ok if r.ttft_s is not None]),
        "tpot_ms": _stats([t for r in ok if (t := r.tpot_s) is not None]),
        "e2e_ms": _stats([r.latency_s for r in ok if r.latency_s is not None]),
        "mean_output_tokens": round(output_tokens / len(ok), 2) if ok else None,
        "mean_prompt_tokens": round(sum(prompt_tokens) / len(prompt_tokens), 1) if prompt_tokens else None,
        "token_count_source": sources.pop() if len(sources) == 1 else ("mixed" if sources else None),
        "finish_reasons": dict(Counter(r.finish_reason or "none" for r in ok)),
        "tool_call_rate": round(sum(r.tool_calls > 0 for r in ok) / len(ok), 3) if ok else None,
        "errors": dict(Counter(r.error_kind for r in records if not r.ok)),
    }
    first_error = next((r.error for r in records if not r.ok and r.error), None)
    if first_error:
        figures["first_error"] = first_error[:300]
    return figures


def _stats(seconds: list[float]) -> dict[str, float | None]:
    def ms(value: float | None) -> float | None:
        return None if value is None else round(value * 1000, 2)

    return {"p50": ms(percentile(seconds, 50)), "p99": ms(percentile(seconds, 99)),
            "mean": ms(sum(seconds) / len(seconds)) if seconds else None}


# ---------------------------------------------------------------- probing the server


async def probe(base_url: str, workload: Workload, headers: dict[str, str], timeout_s: float) -> list[str]:
    """One short request (also a warm-up). A 400/422 with `ignore_eos` (then `stream_options`) is
    retried without it, and the workload changed to match; returns notes on what was dropped.
    Raises RuntimeError when even the plainest request fails."""
    notes: list[str] = []
    url = f"{base_url}/chat/completions"
    async with httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=min(30.0, timeout_s))) as client:
        while True:
            record = await stream_one(client, url, workload.body(0, max_tokens=2), RequestRecord(-1, 1), headers)
            if record.ok:
                return notes
            rejected = record.error_kind in ("http_400", "http_422")
            if rejected and workload.ignore_eos:
                workload.ignore_eos = False
                notes.append(f"the server rejected ignore_eos ({record.error}); sent without it "
                             "(use --no-ignore-eos to skip this probe)")
            elif rejected and workload.include_usage:
                workload.include_usage = False
                notes.append(f"the server rejected stream_options ({record.error}); output tokens are "
                             "counted from content deltas")
            else:
                raise RuntimeError(f"the probe request failed: {record.error}")


# ---------------------------------------------------------------- the command


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="toolwire bench", description=__doc__.split("\n\n")[0],
                                epilog="See the module docstring (toolwire/bench/serve_bench.py) for how each "
                                       "figure is measured.")
    p.add_argument("--base-url", required=True,
                   help="the server's OpenAI base URL, e.g. http://127.0.0.1:8000/v1 (a bare host:port gets /v1)")
    p.add_argument("--model", help="model name to send (default: the first of GET /v1/models)")
    p.add_argument("--against", metavar="URL",
                   help="then run the same load against this second server and print the ratios")
    p.add_argument("--against-model", help="model name for --against (default: the first of its /v1/models)")
    p.add_argument("--api-key", help="bearer token (default: $OPENAI_API_KEY, else none)")
    p.add_argument("--concurrency", nargs="+", default=["1"], metavar="N",
                   help="one or more concurrency levels, e.g. `--concurrency 1 8 32` or `1,8,32` (default: 1)")
    p.add_argument("--requests", type=int, metavar="N",
                   help="requests per level (default: 4 x the level's concurrency, at least 8)")
    p.add_argument("--max-tokens", type=int, default=128, help="output tokens asked per request (default: 128)")
    prompt = p.add_mutually_exclusive_group()
    prompt.add_argument("--prompt-tokens", type=int, default=128,
                        help="approximate prompt length, in random words (default: 128)")
    prompt.add_argument("--prompt-file", type=Path, help="use this file's text as every prompt")
    p.add_argument("--tools", choices=["none", "weather", "bfcl"], default="none",
                   help="send tools: a weather tool, or BFCL simple_python questions with their tools")
    p.add_argument("--tool-choice", help="auto, required, none, or a function name (needs --tools)")
    p.add_argument("--data-dir", type=Path,
                   help="BFCL data folder for --tools bfcl (default: the bfcl-eval package's)")
    p.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (default: 0)")
    p.add_argument("--ignore-eos", dest="ignore_eos", action="store_true", default=True,
                   help="send ignore_eos: true (default; dropped automatically if the server rejects it)")
    p.add_argument("--no-ignore-eos", dest="ignore_eos", action="store_false",
                   help="never send ignore_eos (servers that reject unknown fields)")
    p.add_argument("--no-usage", dest="include_usage", action="store_false",
                   help="do not ask for the usage chunk; count content deltas instead")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="longest wait in seconds to connect, for the first chunk, or between two chunks; "
                        "a request that waits longer fails as `timeout` (default: 600)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random-word prompts (default: 0)")
    p.add_argument("--no-probe", dest="probe", action="store_false",
                   help="skip the warm-up request that checks which extra fields the server accepts")
    p.add_argument("--output", type=Path, metavar="FILE.json", help="also write the summary here")
    p.add_argument("--per-request", type=Path, metavar="FILE.jsonl", help="write one JSON line per request")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    return p


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.concurrency = [int(c) for item in args.concurrency for c in str(item).split(",") if c.strip()]
    except ValueError:
        parser.error("--concurrency takes whole numbers, e.g. `--concurrency 1 8 32`")
    if not args.concurrency or min(args.concurrency) < 1:
        parser.error("--concurrency levels must be at least 1")
    if args.requests is not None and args.requests < 1:
        parser.error("--requests must be at least 1")
    if args.max_tokens < 1 or args.prompt_tokens < 1:
        parser.error("--max-tokens and --prompt-tokens must be at least 1")
    if args.tool_choice and args.tools == "none":
        parser.error("--tool-choice needs --tools weather or --tools bfcl")
    args.base_url = normalize_base_url(args.base_url)
    if args.against:
        args.against = normalize_base_url(args.against)
    return args


def requests_for(args: argparse.Namespace, concurrency: int) -> int:
    return args.requests if args.requests is not None else max(8, 4 * concurrency)


def table(summary: dict[str, Any]) -> str:
    header = ["conc", "reqs", "ok", "failed", "out tok/s", "req/s", "TTFT p50", "TTFT p99",
              "TPOT p50", "TPOT p99", "tok/req"]
    rows = []
    for level in summary["levels"]:
        rows.append([
            level["concurrency"], level["requests"], level["completed"], level["failed"],
            _num(level["output_tokens_per_s"], 1), _num(level["requests_per_s"], 3),
            _ms(level["ttft_ms"]["p50"]), _ms(level["ttft_ms"]["p99"]),
            _ms(level["tpot_ms"]["p50"]), _ms(level["tpot_ms"]["p99"]), _num(level["mean_output_tokens"], 1),
        ])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for level in summary["levels"]:
        if level["errors"]:
            errors = ", ".join(f"{kind} x{n}" for kind, n in sorted(level["errors"].items()))
            lines.append(f"c={level['concurrency']} errors: {errors}; first: {level.get('first_error', '')}")
    sources = sorted({str(level["token_count_source"]) for level in summary["levels"]})
    lines.append(f"model {summary['model']} at {summary['base_url']}; output tokens counted from "
                 f"{'/'.join(sources)}; ignore_eos {'sent' if summary['ignore_eos'] else 'not sent'}")
    lines.extend(f"note: {n}" for n in summary["notes"])
    return "\n".join(lines)


def _num(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}ms"


# Per level: (figure, path in the level's figures, True when higher is better).
COMPARED = (("output_tokens_per_s", ("output_tokens_per_s",), True),
            ("prompt_tokens_per_s", ("prompt_tokens_per_s",), True),
            ("ttft_p50", ("ttft_ms", "p50"), False),
            ("tpot_p50", ("tpot_ms", "p50"), False))


def ratios(first: dict[str, Any], second: dict[str, Any]) -> list[dict[str, Any]]:
    """Per concurrency level, how many times better the first server is (above 1: better)."""
    out = []
    for a, b in zip(first["levels"], second["levels"]):
        row: dict[str, Any] = {"concurrency": a["concurrency"]}
        for name, path, higher_is_better in COMPARED:
            x, y = a, b
            for key in path:
                x, y = (x or {}).get(key), (y or {}).get(key)
            if x and y:
                row[name] = round(x / y if higher_is_better else y / x, 3)
            else:
                row[name] = None
        out.append(row)
    return out


def ratio_table(rows: list[dict[str, Any]], first: str, second: str) -> str:
    header = ["conc", "out tok/s", "prompt tok/s", "TTFT p50", "TPOT p50"]
    body = [[r["concurrency"], *(_num(r[name], 2) + ("x" if r[name] is not None else "") for name, _, _ in COMPARED)]
            for r in rows]
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]
    lines = [f"{first} against {second} (above 1x: {first} is better)"]
    lines += ["  ".join(str(c).rjust(w) for c, w in zip(r, widths)) for r in [header, *body]]
    return "\n".join(lines)


async def run(args: argparse.Namespace, base_url: str | None = None, model: str | None = None) -> dict[str, Any]:
    headers = auth_headers(args.api_key)
    base_url = base_url or args.base_url
    if not model:
        async with httpx.AsyncClient(timeout=30, headers=headers) as client:
            model = await first_model(client, base_url)
    total = sum(requests_for(args, c) for c in args.concurrency)
    prompts, tools, source = build_prompts(args, total + 1)  # prompt 0 is the probe's
    workload = Workload(model=model, max_tokens=args.max_tokens, temperature=args.temperature, prompts=prompts,
                        tools=tools, tool_choice=tool_choice_value(args.tool_choice),
                        ignore_eos=args.ignore_eos, include_usage=args.include_usage)
    notes = await probe(base_url, workload, headers, args.timeout) if args.probe else []
    levels, records = [], []
    first_index = 1
    for concurrency in args.concurrency:
        count = requests_for(args, concurrency)
        figures, level_records = await run_level(base_url, workload, concurrency, count, headers=headers,
                                                 timeout_s=args.timeout, first_index=first_index,
                                                 progress=not args.quiet)
        first_index += count
        levels.append(figures)
        records.extend(level_records)
    if args.per_request:
        with open(args.per_request, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps({**asdict(record), "tpot_s": record.tpot_s}) + "\n")
    return {
        "base_url": base_url,
        "model": model,
        "max_tokens": args.max_tokens,
        "prompt": source,
        "prompt_tokens_requested": None if (args.prompt_file or args.tools == "bfcl") else args.prompt_tokens,
        "tools": args.tools,
        "tool_choice": args.tool_choice,
        "temperature": args.temperature,
        "ignore_eos": workload.ignore_eos,
        "usage_requested": workload.include_usage,
        "notes": notes,
        "levels": levels,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = asyncio.run(run(args, model=args.model))
        print(table(summary), flush=True)
        if args.against:
            against = asyncio.run(run(args, args.against, args.against_model))
            print(table(against))
            compared = ratios(summary, against)
            print(ratio_table(compared, args.base_url, args.against))
            summary = {**summary, "against": against, "ratios": compared}
    except (httpx.HTTPError, RuntimeError, OSError, ValueError) as exc:
        print(f"toolwire bench: error: {exc}", file=sys.stderr)
        return 1
    if args.output:
        args.output.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
