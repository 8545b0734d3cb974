"""Live servers for the server tests: real `toolwire serve` subprocesses on loopback, shared by the
whole session (loading the model once per server keeps CI short).

- `server`: the default model as a user starts it (parser detected from the template), with greedy
  defaults and a short reply budget so the seeds' examples, which set neither, are deterministic and
  quick; a small context and body limit make the limit errors cheap to provoke.
- `aux_server`: a plugin parser, a reasoning parser, a chat template that opens a <think> block, and
  an API key.
"""

from __future__ import annotations

import httpx
import pytest

from tests.server.helpers import (
    AUX_API_KEY,
    AUX_MODEL_ID,
    GENERATION_DEFAULTS,
    HERE,
    MAX_MODEL_LEN,
    MAX_REQUEST_BYTES,
    LiveServer,
)


@pytest.fixture(scope="session")
def server():
    live = LiveServer("main", [
        "--override-generation-config", GENERATION_DEFAULTS,
        "--max-model-len", str(MAX_MODEL_LEN),
        "--max-request-bytes", str(MAX_REQUEST_BYTES),
        "--kv-cache-memory", "0.25",
        "--seed", "0",
    ])
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
def aux_server():
    live = LiveServer("aux", [
        "--served-model-name", AUX_MODEL_ID,
        "--enable-auto-tool-choice",
        "--tool-parser-plugin", str(HERE / "plugins" / "echo_parser.py"),
        "--tool-call-parser", "test_echo",
        "--reasoning-parser", "deepseek_r1",
        "--chat-template", str(HERE / "templates" / "chatml_think.jinja"),
        "--api-key", AUX_API_KEY,
        "--override-generation-config", '{"temperature": 0, "max_tokens": 24}',
        "--kv-cache-memory", "0.25",
        "--max-model-len", "1024",
    ], api_key=AUX_API_KEY)
    live.start()
    yield live
    live.stop()


@pytest.fixture(scope="session")
def client(server):
    from openai import OpenAI

    return OpenAI(base_url=server.base_url, api_key="dummy", max_retries=0, timeout=300)


@pytest.fixture(scope="session")
def http(server):
    with httpx.Client(base_url=server.url, timeout=300) as session:
        yield session
