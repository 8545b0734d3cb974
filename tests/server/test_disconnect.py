"""A client that goes away mid-request: its request is aborted in the engine and its KV-cache blocks
are free again (read from /metrics), and the server keeps serving."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

pytestmark = pytest.mark.slow

LONG = {"messages": [{"role": "user", "content": "Write a very long story about a dragon."}],
        "max_tokens": 1500, "ignore_eos": True, "temperature": 0}


def wait_for_idle(server, usable: float, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        metrics = server.metrics()
        if (metrics["toolwire_kv_cache_free_blocks"] == usable and metrics["toolwire_num_requests_running"] == 0
                and metrics["toolwire_num_requests_waiting"] == 0):
            return metrics
        if time.monotonic() > deadline:
            pytest.fail(f"engine not idle {timeout}s after the client left: {metrics}")
        time.sleep(0.2)


def start_metrics(server) -> tuple[float, float]:
    metrics = server.metrics()
    usable = metrics["toolwire_kv_cache_usable_blocks"]
    wait_for_idle(server, usable)
    return usable, server.metrics().get("toolwire_requests_aborted_total", 0.0)


def test_streaming_client_disconnect_frees_blocks(server):
    usable, aborted_before = start_metrics(server)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        with client.stream("POST", "/v1/chat/completions", json=dict(LONG, stream=True)) as response:
            assert response.status_code == 200
            received = 0
            for line in response.iter_lines():
                if line.startswith("data: {"):
                    received += 1
                if received >= 5:
                    # (metrics read before leaving the loop: closing the line iterator closes the stream)
                    busy = server.metrics()
                    break
            assert busy["toolwire_kv_cache_free_blocks"] < usable  # the request holds blocks
            assert busy["toolwire_num_requests_running"] == 1
        # the client has closed the connection mid-stream
    metrics = wait_for_idle(server, usable)
    assert metrics["toolwire_requests_aborted_total"] == aborted_before + 1


def test_non_streaming_client_disconnect_frees_blocks(server):
    usable, aborted_before = start_metrics(server)
    body = httpx.Request("POST", server.url + "/v1/chat/completions", json=LONG)
    raw = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body.content)}\r\n\r\n").encode() + body.content
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(raw)
        deadline = time.monotonic() + 60
        while server.metrics()["toolwire_num_requests_running"] == 0:
            assert time.monotonic() < deadline, "the request never started"
            time.sleep(0.1)
    metrics = wait_for_idle(server, usable)
    assert metrics["toolwire_requests_aborted_total"] == aborted_before + 1


def test_server_still_serves_after_disconnects(http):
    response = http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}],
                                                        "max_tokens": 3})
    assert response.status_code == 200
