"""`toolwire eval bfcl`: Berkeley Function Calling Leaderboard categories against any
OpenAI-compatible server. Prints a table per category and where the data came from, then the summary
as one JSON line (the last line of stdout); `--output` keeps one JSON line per entry.

The data comes from the `bfcl-eval` package (`pip install --no-deps bfcl-eval`), or `--data-dir`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

import httpx

from toolwire.evals.bfcl.data import CATEGORIES, DATA_DIR_ENV, available_categories, data_source, load_category
from toolwire.evals.bfcl.report import summarize, table
from toolwire.evals.bfcl.runner import EvalConfig, run_entries
from toolwire.evals.wire import auth_headers, first_model, normalize_base_url


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="toolwire eval bfcl", description=__doc__)
    p.add_argument("--base-url", required=True,
                   help="the server's OpenAI base URL, e.g. http://127.0.0.1:8000/v1 "
                        "(a bare host:port gets /v1)")
    p.add_argument("--model", help="model name to send (default: the first of GET /v1/models)")
    p.add_argument("--api-key", help="bearer token (default: $OPENAI_API_KEY, else none)")
    p.add_argument("--data-dir", type=Path,
                   help=f"folder with BFCL_v4_*.json and possible_answer/ (default: ${DATA_DIR_ENV}, else "
                        "the installed bfcl-eval package's data)")
    p.add_argument("--category", nargs="+", action="extend", metavar="NAME",
                   help=f"one or more of {', '.join(CATEGORIES)}, or all (every one the data has; "
                        "default: simple_python)")
    p.add_argument("--limit", type=int, help="the first N entries of each category (default: all)")
    p.add_argument("--tool-choice", choices=["auto", "required"],
                   help="for every entry (default: required, auto in irrelevance, live_irrelevance and "
                        "live_relevance)")
    p.add_argument("--strict", action="store_true", help="mark every tool `strict: true`")
    p.add_argument("--concurrency", type=int, default=1, help="requests in flight at once (default: 1)")
    p.add_argument("--temperature", type=float, default=0.0, help="sampling temperature (default: 0)")
    p.add_argument("--max-tokens", type=int, default=512, help="reply budget per request (default: 512)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds to wait for the server: to connect, and for the reply (default: 600)")
    p.add_argument("--stream", action="store_true",
                   help="ask for SSE replies and assemble them (tests the streaming path instead)")
    p.add_argument("--output", type=Path, metavar="FILE.jsonl", help="write one JSON line per entry")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    return p


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    categories = args.category or ["simple_python"]
    unknown = [c for c in categories if c not in (*CATEGORIES, "all")]
    if unknown:
        parser.error(f"unknown category {', '.join(unknown)}; known: {', '.join(CATEGORIES)}, all")
    args.category = list(dict.fromkeys(categories))  # "all" is expanded once the data is found
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be at least 1")
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    if args.max_tokens < 1:
        parser.error("--max-tokens must be at least 1")
    args.base_url = normalize_base_url(args.base_url)
    return args


async def _resolve_model(args: argparse.Namespace, headers: dict[str, str]) -> str:
    if args.model:
        return args.model
    async with httpx.AsyncClient(timeout=30, headers=headers) as client:
        return await first_model(client, args.base_url)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        source = data_source(args.data_dir)
        if "all" in args.category:
            args.category = available_categories(source.path)
            if not args.category:
                raise FileNotFoundError(f"no BFCL_v4_<category>.json files in {source.path}")
        entries = [e for c in args.category for e in load_category(source.path, c, args.limit)]
    except (OSError, ValueError) as exc:
        print(f"toolwire eval bfcl: error: {exc}", file=sys.stderr)
        return 2
    headers = auth_headers(args.api_key)
    try:
        model = asyncio.run(_resolve_model(args, headers))
    except (httpx.HTTPError, RuntimeError, ValueError) as exc:
        print(f"toolwire eval bfcl: error: cannot list models at {args.base_url}: {exc}", file=sys.stderr)
        return 1
    config = EvalConfig(
        base_url=args.base_url, model=model, tool_choice=args.tool_choice, strict=args.strict,
        temperature=args.temperature, max_tokens=args.max_tokens, concurrency=args.concurrency,
        timeout_s=args.timeout, stream=args.stream, headers=headers,
    )
    results = asyncio.run(run_entries(entries, config, progress=not args.quiet))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with open(args.output, "w", encoding="utf-8") as handle:
            for result in results:
                handle.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
    summary = summarize(results, {
        "base_url": args.base_url, "model": model, "categories": args.category, "limit": args.limit,
        "tool_choice": args.tool_choice or "required (auto in the relevance categories)", "strict": args.strict,
        "temperature": args.temperature, "max_tokens": args.max_tokens, "concurrency": args.concurrency,
        "stream": args.stream, "data_source": source.origin, "data_dir": str(source.path),
    })
    print(table(summary))
    print(f"data: {source.describe()}")
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
