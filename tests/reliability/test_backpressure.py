"""300 requests at once against --max-queued-requests 32: those past the running batch and 32 waiting
get a 429 with Retry-After in the called API's error shape, before any work; the rest complete;
/metrics counts the rejections and the time the admitted ones waited. And who waits first: the
scheduler admits by `priority` (lower first), then arrival."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.engine.test_scheduler import add, make_scheduler, run_step, scheduled
from tests.server.helpers import MODEL_ID, LiveServer
from toolwire.engine.sampling_params import SamplingParams
from toolwire.engine.sequence import Sequence

MAX_NUM_SEQS = 16
MAX_QUEUED = 32
NUM_REQUESTS = 300
# Every tenth request speaks Anthropic's Messages API, whose errors have their own shape.
MESSAGES_EVERY = 10


@pytest.fixture(scope="module")
def server():
    live = LiveServer("backpressure", ["--kv-cache-memory", "0.25", "--max-model-len", "1024", "--weights", "exact",
                                       "--max-num-seqs", str(MAX_NUM_SEQS),
                                       "--max-queued-requests", str(MAX_QUEUED)])
    live.start()
    yield live
    live.stop()


def request(i: int) -> tuple[str, dict]:
    messages = [{"role": "user", "content": f"Say a word about the number {i}."}]
    if i % MESSAGES_EVERY == 0:
        return "/v1/messages", {"model": MODEL_ID, "messages": messages, "max_tokens": 3}
    return "/v1/chat/completions", {"messages": messages, "max_tokens": 3}


async def burst(url: str) -> list[tuple[str, httpx.Response]]:
    limits = httpx.Limits(max_connections=NUM_REQUESTS, max_keepalive_connections=NUM_REQUESTS)
    async with httpx.AsyncClient(base_url=url, timeout=300, limits=limits) as client:
        async def send(i: int) -> tuple[str, httpx.Response]:
            path, body = request(i)
            return path, await client.post(path, json=body)

        return await asyncio.gather(*(send(i) for i in range(NUM_REQUESTS)))


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        if sample.split("{")[0] == name and all(f'{k}="{v}"' in sample for k, v in labels.items()):
            return float(value)
    return 0.0


@pytest.mark.slow
def test_excess_requests_get_429_and_the_rest_complete(server):
    answers = asyncio.run(burst(server.url))
    served = [(path, r) for path, r in answers if r.status_code == 200]
    refused = [(path, r) for path, r in answers if r.status_code == 429]
    assert len(served) + len(refused) == NUM_REQUESTS, sorted({r.status_code for _, r in answers})
    # Refusals start only once the running batch and the queue are full, and all of those finish.
    assert refused and len(served) >= MAX_NUM_SEQS + MAX_QUEUED, (len(served), len(refused))

    for path, response in served:
        body = response.json()
        if path == "/v1/messages":
            assert body["type"] == "message" and body["stop_reason"] == "max_tokens", body
        else:
            assert body["choices"][0]["finish_reason"] == "length", body
    for path, response in refused:
        assert int(response.headers["Retry-After"]) >= 1
        body = response.json()
        if path == "/v1/messages":
            assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error", body
            message = body["error"]["message"]
        else:
            assert body["error"]["type"] == "rate_limit_error" and body["error"]["code"] == "queue_full", body
            message = body["error"]["message"]
        assert re.search(r"retry after \d+ s", message), message
    assert any(path == "/v1/messages" for path, _ in refused)

    text = httpx.get(server.url + "/metrics", timeout=30).text
    assert metric(text, "toolwire_requests_rejected_total", reason="queue_full") == len(refused)
    assert metric(text, "toolwire_requests_total", endpoint="/v1/chat/completions", status="429") + metric(
        text, "toolwire_requests_total", endpoint="/v1/messages", status="429") == len(refused)
    # Every admitted request's one sequence waited once before its first step.
    assert metric(text, "toolwire_request_queue_time_seconds_count") == len(served)
    assert metric(text, "toolwire_request_queue_time_seconds_sum") > 0

    # Once the burst is over the queue is empty again: a retry is served.
    path, body = request(1)
    assert httpx.post(server.url + path, json=dict(body, priority=-1), timeout=60).status_code == 200
    print(f"{len(served)} served, {len(refused)} refused with 429")


def queue(scheduler, name: str, priority: int) -> Sequence:
    seq = Sequence(name, [11, 12], SamplingParams(priority=priority))
    scheduler.add(seq)
    return seq


def test_waiting_requests_start_by_priority_then_arrival():
    scheduler = make_scheduler(max_num_seqs=1, budget=100)
    waits: list[float] = []
    scheduler.on_first_scheduled = waits.append
    for name, priority in [("a", 0), ("b", 5), ("c", -1), ("d", 5), ("e", 0)]:
        queue(scheduler, name, priority)
    started = []
    while scheduler.has_unfinished():
        seq = run_step(scheduler).seqs[0]
        started.append(seq.request_id)
        scheduler.finish(seq)
    assert started == ["c", "a", "e", "b", "d"]
    assert len(waits) == 5 and all(w >= 0 for w in waits)


def test_a_preempted_sequence_waits_behind_higher_priorities_only():
    scheduler = make_scheduler(num_blocks=4, block_size=2, max_num_seqs=3, budget=100)  # 3 usable blocks
    for name in "abc":
        add(scheduler, name, 2)
    assert scheduled(run_step(scheduler)) == [("a", 2), ("b", 2), ("c", 2)]
    queue(scheduler, "d", 0)
    queue(scheduler, "urgent", -1)
    # Each running sequence needs a second block and none is free: c, then b are preempted.
    run_step(scheduler)
    assert [s.request_id for s in scheduler.waiting] == ["urgent", "b", "c", "d"]


def test_the_flag_sets_the_limit_and_leaving_it_out_sets_none():
    from toolwire.serve import parse_args

    assert parse_args(["--max-queued-requests", "32"]).max_queued_requests == 32
    assert parse_args([]).max_queued_requests is None
    with pytest.raises(SystemExit):
        parse_args(["--max-queued-requests", "-1"])
