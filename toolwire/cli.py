"""The `toolwire` command: the server, the client demo, the measuring instruments."""

from __future__ import annotations

import argparse
import importlib
import sys

# command -> (module whose `main(argv)` runs it, help line). Modules load only when their command runs.
COMMANDS = {
    "serve": ("toolwire.serve", "start the OpenAI-compatible server (default model: SmolLM2-135M-Instruct)"),
    "demo": ("toolwire.client.demo", "run the guide's weather example end to end against a server"),
    "bench": ("toolwire.bench.serve_bench", "load-test any OpenAI-compatible server (tok/s, TTFT, TPOT)"),
    "eval": ("toolwire.evals.cli", "evaluate tool calling on BFCL data against any OpenAI-compatible server"),
    "bench-engine": ("toolwire.bench.engine", "measure the engine in-process on the default model"),
    "bench-parsers": ("toolwire.bench.parsers", "measure tool-call parsing cost per KB, per format"),
    "bench-guided": ("toolwire.bench.guided", "measure grammar compile and mask-fill cost"),
}


def dispatch(prog: str, description: str | None, commands: dict[str, tuple[str, str]],
             argv: list[str] | None) -> int:
    """Runs `main(rest_of_argv)` of the module registered for the first argument."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, help_text) in commands.items():
        sub.add_parser(name, help=help_text, add_help=False)
    args, rest = parser.parse_known_args(argv)
    module_name, _ = commands[args.command]
    return importlib.import_module(module_name).main(rest) or 0


def main(argv: list[str] | None = None) -> int:
    return dispatch("toolwire", __doc__, COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
