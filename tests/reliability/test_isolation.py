"""No request can hurt another (issue 16): hostile sampling values and constraints that leave no token
reach the engine while 4 bystander streams run. Each hostile request gets its answer or a 4xx in the
API's error shape (streamed: an error event, then [DONE]), never a 5xx; every bystander ends with a
finish_reason and [DONE]; no engine step fails and the server keeps serving."""

from __future__ import annotations

import pytest

from tests.reliability.live_streams import Reply, in_thread, result, send
from tests.server.helpers import LiveServer

pytestmark = pytest.mark.slow

HI = [{"role": "user", "content": "hi"}]
NOTHING_MATCHES = r"[^\s\S]"  # xgrammar compiles it to a mask that allows no token

# name -> (path, body). Each is sent whole and streamed.
HOSTILE = {
    "repetition_penalty 5e-324 (the issue's case)": (
        "/chat/completions", {"messages": HI, "max_tokens": 4, "repetition_penalty": 5e-324}),
    "repetition_penalty 5e-324, sampled": (
        "/chat/completions", {"messages": HI, "max_tokens": 4, "repetition_penalty": 5e-324, "temperature": 1.0}),
    "temperature 5e-324": ("/chat/completions", {"messages": HI, "max_tokens": 4, "temperature": 5e-324}),
    "top_p and min_p 5e-324, top_k 2**62": (
        "/chat/completions", {"messages": HI, "max_tokens": 4, "temperature": 2.0, "top_p": 5e-324,
                              "min_p": 5e-324, "top_k": 2**62}),
    "a guided_regex nothing matches": (
        "/chat/completions", {"messages": HI, "max_tokens": 4, "guided_regex": NOTHING_MATCHES}),
    "the same on /v1/completions": (
        "/completions", {"prompt": "hi", "max_tokens": 4, "guided_regex": NOTHING_MATCHES}),
    "a grammar that wants EOS while min_tokens forbids it": (
        "/chat/completions", {"messages": HI, "max_tokens": 8, "min_tokens": 5, "guided_regex": "a"}),
}

BYSTANDER_TOKENS = 120


@pytest.fixture(scope="module")
def server():
    live = LiveServer("isolation", ["--kv-cache-memory", "0.25", "--max-model-len", "2048", "--seed", "0"]).start()
    yield live
    live.stop()


def bystander(index: int) -> dict:
    sampled = {"temperature": 0.8, "seed": index} if index % 2 else {"temperature": 0}
    return {"messages": [{"role": "user", "content": f"Tell me a long story about lighthouse number {index}."}],
            "max_tokens": BYSTANDER_TOKENS, "ignore_eos": True, "stream": True, **sampled}


def check_hostile_reply(name: str, reply: Reply) -> None:
    """An answer, or a 4xx in OpenAI's error shape; streamed, a 4xx may also come as an error event
    in the stream, which then ends with [DONE]."""
    assert reply.status < 500, (name, reply.status, reply.body)
    if reply.status != 200:
        assert set(reply.body) == {"error"} and reply.body["error"]["message"], (name, reply.body)
        assert reply.body["error"]["type"] == "invalid_request_error", (name, reply.body)
        return
    if reply.body is not None:  # whole
        assert reply.finish_reasons, (name, reply.body)
        return
    assert reply.done, name
    for error in reply.errors:
        assert error["type"] == "invalid_request_error" and error["message"], (name, error)
    assert reply.errors or reply.finish_reasons, name


def test_hostile_requests_leave_bystander_streams_whole(server):
    bystanders = [Reply() for _ in range(4)]
    threads = [in_thread(send, server.base_url, "/chat/completions", bystander(i), reply=reply)
               for i, reply in enumerate(bystanders)]
    for reply in bystanders:
        assert reply.started.wait(120), "a bystander stream never started"

    hostile = {(name, stream): in_thread(send, server.base_url, path, dict(body, stream=stream))
               for name, (path, body) in HOSTILE.items() for stream in (False, True)}
    hostile_replies = {key: result(*running) for key, running in hostile.items()}
    answered_at = max(reply.ended_at for reply in hostile_replies.values())
    for (name, stream), reply in hostile_replies.items():
        check_hostile_reply(f"{name} ({'streamed' if stream else 'whole'})", reply)
    refused = sum(1 for r in hostile_replies.values() for e in r.errors + [(r.body or {}).get("error") or {}]
                  if e.get("code") == "no_allowed_token")
    assert refused >= 6  # the three constraints that leave no token, whole and streamed, reached the engine

    for running in threads:
        result(*running)
    for reply in bystanders:
        assert reply.completed(), (reply.status, reply.errors, reply.finish_reasons, reply.done)
        assert reply.finish_reasons == {0: "length"} and reply.text
        assert reply.ended_at > answered_at  # it was running all the while

    metrics = server.metrics()
    assert metrics["toolwire_engine_step_errors_total"] == 0
    assert metrics["toolwire_sequence_errors_total"] >= refused
    after = send(server.base_url, "/chat/completions", {"messages": HI, "max_tokens": 4})
    assert after.status == 200 and after.finish_reasons
