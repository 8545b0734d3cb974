"""One `toolwire serve` (default model) on a loopback port for the whole test session, shared by the
eval and bench tests; started on first use, stopped at exit. Tests that need it skip, with the
server's own words, when it cannot start."""

from __future__ import annotations

import atexit
import os

import pytest

SERVER_ARGS = ["--kv-cache-memory", "0.25", "--max-model-len", "2048", "--seed", "0"]
_state: dict[str, object] = {}


def toolwire_base_url() -> str:
    """The live server's base URL (…/v1); skips the calling test when the server cannot start."""
    if "url" not in _state and "error" not in _state:
        from toolwire.client.local_server import LocalServer, ServerStartError

        server = LocalServer(extra_args=SERVER_ARGS,
                             startup_timeout=float(os.environ.get("TOOLWIRE_TEST_SERVER_TIMEOUT", "600")))
        try:
            server.start()
        except ServerStartError as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            _state["error"] = f"toolwire serve could not start: {lines[0]} ... {lines[-1]}"
        else:
            atexit.register(server.stop)
            _state["url"] = server.base_url
    if "error" in _state:
        pytest.skip(str(_state["error"]))
    return str(_state["url"])
