"""64 streams against a KV cache that holds a handful of them, half the clients leaving at a random
moment (some before the first token, some while their sequence waits or runs): every stream that
stays ends with a finish_reason and [DONE], the engine preempted (its counter in /metrics moved), the
clients that left were counted as aborted sequences, and afterwards the KV cache is back to its
baseline."""

from __future__ import annotations

import random
import time

import pytest

from tests.reliability.live_streams import in_thread, result, send
from tests.server.helpers import LiveServer

pytestmark = pytest.mark.slow

NUM_STREAMS = 64
MAX_TOKENS = 24
# Each stream needs 4 blocks of 16 tokens (a ~35-token prompt and 24 tokens), none of them shared past
# the chat template's opening; float32 KV of SmolLM2-135M in this much memory is about 35 blocks.
BLOCKS_PER_STREAM = 4
KV_CACHE_GIB = "0.025"


@pytest.fixture(scope="module")
def server():
    live = LiveServer("preemption", ["--kv-cache-memory", KV_CACHE_GIB, "--seed", "0"]).start()
    yield live
    live.stop()


def stream_body(index: int) -> dict:
    return {"messages": [{"role": "user", "content": f"Client {index} asks: what is {index * 7919} plus one?"}],
            "max_tokens": MAX_TOKENS, "ignore_eos": True, "temperature": 0.7, "seed": index, "stream": True}


def wait_for_idle(server, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        metrics = server.metrics()
        if (metrics["toolwire_kv_cache_free_blocks"] == metrics["toolwire_kv_cache_usable_blocks"]
                and metrics["toolwire_num_requests_running"] == 0 and metrics["toolwire_num_requests_waiting"] == 0):
            return metrics
        if time.monotonic() > deadline:
            pytest.fail(f"the engine is not idle {timeout}s after the last stream: {metrics}")
        time.sleep(0.2)


def test_streams_survive_preemption_and_disconnects(server):
    before = wait_for_idle(server)
    assert before["toolwire_kv_cache_usable_blocks"] < NUM_STREAMS // 4 * BLOCKS_PER_STREAM  # a quarter at most
    rng = random.Random(16)
    # Data lines a leaving client reads before it closes the connection (0: right after the headers).
    leave_after = {i: rng.randint(0, 6) for i in rng.sample(range(NUM_STREAMS), NUM_STREAMS // 2)}

    running = [in_thread(send, server.base_url, "/chat/completions", stream_body(i), leave_after=leave_after.get(i))
               for i in range(NUM_STREAMS)]
    replies = [result(*r) for r in running]

    for index, reply in enumerate(replies):
        if index in leave_after:
            assert reply.status == 200 and reply.left
        else:
            assert reply.completed(), (index, reply.status, reply.errors, reply.finish_reasons, reply.done)
            assert reply.finish_reasons == {0: "length"}
    after = wait_for_idle(server)
    assert after["toolwire_kv_cache_free_blocks"] == before["toolwire_kv_cache_free_blocks"]
    assert after["toolwire_num_preemptions_total"] > before["toolwire_num_preemptions_total"]
    aborted = after["toolwire_aborted_sequences_total"] - before["toolwire_aborted_sequences_total"]
    # A client that leaves after its last token is not an abort; the engine saw most leave mid-way.
    assert NUM_STREAMS // 4 <= aborted <= NUM_STREAMS // 2
    assert after["toolwire_engine_step_errors_total"] == 0 and after["toolwire_sequence_errors_total"] == 0
