"""Fixtures for the client tests.

- ``scripted``: a real loopback HTTP server with scripted chat-completions replies (per test), and
  ``client`` / ``async_client``: the real OpenAI SDK pointed at it.
- ``live_server``: ``toolwire serve`` on the default model, started once per session as a subprocess
  on a free loopback port; the tests that use it skip (with the server's own words) when it cannot
  start.
"""

from __future__ import annotations

import os

import pytest

from tests.client.scripted_server import ScriptedServer

openai = pytest.importorskip("openai")


@pytest.fixture
def scripted():
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def client(scripted):
    with openai.OpenAI(base_url=scripted.base_url, api_key="test", max_retries=0, timeout=30) as c:
        yield c


@pytest.fixture
def async_client(scripted):
    return openai.AsyncOpenAI(base_url=scripted.base_url, api_key="test", max_retries=0, timeout=30)


@pytest.fixture(scope="session")
def live_server():
    """``toolwire serve`` (default model) on a free loopback port; skips when it cannot start."""
    from toolwire.client.local_server import LocalServer, ServerStartError

    timeout = float(os.environ.get("TOOLWIRE_TEST_SERVER_TIMEOUT", "600"))
    server = LocalServer(startup_timeout=timeout)
    try:
        server.start()
    except ServerStartError as exc:
        lines = [line for line in str(exc).splitlines() if line.strip()]
        pytest.skip(f"toolwire serve not available: {lines[0]} ... {lines[-1].strip()}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def live_client(live_server):
    with openai.OpenAI(base_url=live_server.base_url, api_key="none", timeout=600) as c:
        yield c


@pytest.fixture(scope="session")
def live_model(live_client):
    return live_client.models.list().data[0].id
