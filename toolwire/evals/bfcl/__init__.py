"""`toolwire eval bfcl`: BFCL data (`data`), schema conversion (`schema`), the call checker
(`checker`), the request runner (`runner`) and the figures (`report`); `main` is the command."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    from toolwire.evals.bfcl.cli import main as run

    return run(argv)


__all__ = ["main"]
