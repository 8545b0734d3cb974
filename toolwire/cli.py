"""The `toolwire` command: serve, and the benchmark commands."""

from __future__ import annotations

import argparse
import sys


def _serve(args: argparse.Namespace, rest: list[str]) -> int:
    print(
        "toolwire serve: not yet — the OpenAI-compatible server lands with the server issue. "
        "The tool-call formats and the engine are usable from Python meanwhile.",
        file=sys.stderr,
    )
    return 2


def _bench_parsers(args: argparse.Namespace, rest: list[str]) -> int:
    from toolwire.bench import parsers

    return parsers.main(rest) or 0


def _bench_engine(args: argparse.Namespace, rest: list[str]) -> int:
    from toolwire.bench import engine

    return engine.main(rest) or 0


COMMANDS = {
    "serve": (_serve, "start the OpenAI-compatible server"),
    "bench-parsers": (_bench_parsers, "measure tool-call parsing cost per KB, per format"),
    "bench-engine": (_bench_engine, "measure the engine in-process on the default model"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="toolwire", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    args, rest = parser.parse_known_args(argv)
    handler, _ = COMMANDS[args.command]
    return handler(args, rest)


if __name__ == "__main__":
    sys.exit(main())
