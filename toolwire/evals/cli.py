"""`toolwire eval SUITE ...`: picks the evaluation suite; each suite parses its own arguments."""

from __future__ import annotations

from toolwire.cli import dispatch

SUITES = {
    "bfcl": ("toolwire.evals.bfcl.cli", "Berkeley Function Calling Leaderboard categories"),
}


def main(argv: list[str] | None = None) -> int:
    return dispatch("toolwire eval", "Evaluate tool calling against any OpenAI-compatible server.", SUITES, argv)
