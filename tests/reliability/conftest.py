"""The live server the hostile-input, schemathesis and event-loop tests share: the default model as
a user starts it with an API key (which /metrics needs too), the default 16 MiB body limit, a small
context and short greedy replies, so that whatever a generated request asks for stays cheap."""

from __future__ import annotations

import httpx
import pytest

from tests.server.helpers import LiveServer

API_KEY = "reliability-key"
MAX_MODEL_LEN = 1024
# Replies stay short unless a request asks for more (bystander streams do).
GENERATION_DEFAULTS = '{"temperature": 0, "max_tokens": 8}'


@pytest.fixture(scope="session")
def hostile_server():
    live = LiveServer("hostile", [
        "--api-key", API_KEY, "--metrics-need-key",
        "--override-generation-config", GENERATION_DEFAULTS,
        "--max-model-len", str(MAX_MODEL_LEN),
        "--kv-cache-memory", "0.25",
        "--seed", "0",
        "--weights", "exact",
    ], api_key=API_KEY)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
def keyed(hostile_server):
    """An HTTP client that sends the key, on one keep-alive connection at a time."""
    with httpx.Client(base_url=hostile_server.url, headers=hostile_server.headers, timeout=120) as client:
        yield client
