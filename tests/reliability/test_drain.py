"""SIGTERM while 8 streams run: the server stops taking requests, lets the running ones finish within
--shutdown-timeout, ends the rest with a finish_reason, an error event and [DONE], and exits 0."""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest

from tests.server.helpers import LiveServer

NUM_STREAMS = 8
LONG_TIMEOUT, SHORT_TIMEOUT = 120, 1


@pytest.fixture(scope="module")
def servers():
    """A server per test, each its own process for the test to stop, started side by side (loading
    is mostly single-threaded); exact weights skip the start-up conversion."""
    live = {timeout: LiveServer(f"drain-{timeout}s", [
        "--kv-cache-memory", "0.25", "--max-model-len", "2048", "--seed", "0", "--weights", "exact",
        "--shutdown-timeout", str(timeout)]) for timeout in (LONG_TIMEOUT, SHORT_TIMEOUT)}
    starts = [threading.Thread(target=server.start) for server in live.values()]
    for thread in starts:
        thread.start()
    for thread in starts:
        thread.join()
    failed = [server for server in live.values() if server.startup_seconds is None]
    if failed:
        for server in live.values():
            server.stop()
        pytest.fail(f"{failed[0].name} did not start:\n{failed[0].log()[-3000:]}")
    yield live
    for server in live.values():
        server.stop()


@dataclass
class Stream:
    """One streamed chat completion read to its end on its own thread: what a client saw."""

    server: LiveServer
    max_tokens: int
    chunks: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    # The data lines in order, [DONE] included.
    lines: list[str] = field(default_factory=list)
    failure: BaseException | None = None
    started: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        body = {"messages": [{"role": "user", "content": "Tell me a long story about a lighthouse."}],
                "max_tokens": self.max_tokens, "ignore_eos": True, "temperature": 0, "stream": True}
        try:
            with httpx.stream("POST", self.server.base_url + "/chat/completions", json=body, timeout=120) as response:
                assert response.status_code == 200, response.read()
                for line in response.iter_lines():
                    if not line.startswith("data: "):
                        continue
                    data = line.removeprefix("data: ")
                    self.lines.append(data)
                    if data == "[DONE]":
                        continue
                    event = json.loads(data)
                    if "error" in event:
                        self.errors.append(event["error"])
                    else:
                        self.chunks.append(event)
                        if any(c["delta"].get("content") for c in event["choices"]):
                            self.started.set()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.failure = exc
        finally:
            self.started.set()

    @property
    def finish_reasons(self) -> list[str]:
        return [c["finish_reason"] for chunk in self.chunks for c in chunk["choices"] if c["finish_reason"]]


def run_streams(server: LiveServer, max_tokens: int) -> tuple[list[Stream], list[threading.Thread]]:
    streams = [Stream(server, max_tokens) for _ in range(NUM_STREAMS)]
    threads = [threading.Thread(target=s.run, daemon=True) for s in streams]
    for thread in threads:
        thread.start()
    for stream in streams:
        assert stream.started.wait(120), "a stream never started"
        assert stream.failure is None, stream.failure
    return streams, threads


def refused(server: LiveServer) -> str:
    """How a new request is turned away once the server has seen the SIGTERM: the listener is
    closed, or a 503 in shape. (One sent before it has seen the signal is simply served.)"""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            response = httpx.post(server.base_url + "/chat/completions", timeout=10,
                                  json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2})
        except httpx.TransportError as exc:
            return type(exc).__name__
        if response.status_code != 200:
            assert response.status_code == 503, response.text
            assert response.json()["error"]["code"] == "server_shutting_down"
            assert "Retry-After" in response.headers
            return "503"
        time.sleep(0.1)
    pytest.fail("new requests were still served 10 s after SIGTERM")


@pytest.mark.slow
def test_sigterm_lets_running_streams_finish(servers):
    server = servers[LONG_TIMEOUT]
    streams, threads = run_streams(server, max_tokens=40)
    server.process.send_signal(signal.SIGTERM)
    how = refused(server)  # new requests are turned away ...
    assert server.process.poll() is None and any(t.is_alive() for t in threads)  # ... while streams run
    for thread in threads:
        thread.join(120)
    exit_code = server.process.wait(60)
    for stream in streams:
        assert stream.failure is None, f"{stream.failure!r}\n{server.log()[-3000:]}"
        assert stream.errors == []
        assert stream.finish_reasons == ["length"]
        assert stream.lines[-1] == "[DONE]"
    assert exit_code == 0, server.log()[-3000:]
    print(f"new request after SIGTERM: {how}")


@pytest.mark.slow
def test_sigterm_ends_streams_past_the_shutdown_timeout(servers):
    server = servers[SHORT_TIMEOUT]
    whole: dict = {}

    def non_streamed() -> None:
        body = {"messages": [{"role": "user", "content": "Tell me a long story."}], "max_tokens": 1500,
                "ignore_eos": True}
        response = httpx.post(server.base_url + "/chat/completions", json=body, timeout=120)
        whole.update(status=response.status_code, body=response.json())

    waiter = threading.Thread(target=non_streamed, daemon=True)
    waiter.start()
    streams, threads = run_streams(server, max_tokens=1500)
    signalled = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    for thread in threads + [waiter]:
        thread.join(60)
    exit_code = server.process.wait(60)
    exit_seconds = time.monotonic() - signalled
    for stream in streams:
        assert stream.failure is None, f"{stream.failure!r}\n{server.log()[-3000:]}"
        assert stream.finish_reasons == ["abort"]
        assert len(stream.errors) == 1 and "shutting down" in stream.errors[0]["message"], stream.errors
        assert stream.errors[0]["code"] == "server_shutting_down"
        # the finish_reason, then the error, then [DONE]
        assert [json.loads(line).get("error") is not None for line in stream.lines[-3:-1]] == [False, True]
        assert stream.lines[-1] == "[DONE]"
    assert whole["status"] == 503 and "shutting down" in whole["body"]["error"]["message"], whole
    assert exit_code == 0, server.log()[-3000:]
    assert exit_seconds < 10, f"exit took {exit_seconds:.1f} s"


def test_the_shutdown_timeout_flag():
    from toolwire.serve import parse_args

    assert parse_args([]).shutdown_timeout == 30
    assert parse_args(["--shutdown-timeout", "2.5"]).shutdown_timeout == 2.5
    for bad in ("-1", "nan", "inf"):
        with pytest.raises(SystemExit):
            parse_args(["--shutdown-timeout", bad])


def test_a_request_that_still_arrives_while_draining_gets_a_503_in_shape():
    """Past the closed listener (a connection opened before), the admission answers: a 503 with
    Retry-After in the called API's error shape; routes that start no generation still answer."""
    import asyncio
    from types import SimpleNamespace

    from toolwire.api.admission import Admission, AdmissionMiddleware
    from toolwire.api.metrics import Metrics

    async def ok(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    state = SimpleNamespace(admission=Admission(max_running=4, max_queued=None), metrics=Metrics("m"))
    state.admission.close()

    async def ask() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=AdmissionMiddleware(ok, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://toolwire") as client:
            return [await client.post("/v1/chat/completions", json={}), await client.post("/v1/messages", json={}),
                    await client.get("/metrics")]

    chat, messages, metrics = asyncio.run(ask())
    assert chat.status_code == 503 and chat.headers["Retry-After"] == "1"
    assert chat.json()["error"]["code"] == "server_shutting_down"
    assert messages.status_code == 503 and messages.json()["error"]["type"] == "overloaded_error"
    assert metrics.status_code == 200
    assert 'toolwire_requests_rejected_total{model="m",reason="server_shutting_down"} 2' in state.metrics.render()
