import asyncio

import pytest

from toolwire.engine import AsyncEngine, EngineConfig, SamplingParams
from tests.engine.conftest import kv_gib_for_blocks, make_engine

LONG = SamplingParams(temperature=0, max_tokens=500, ignore_eos=True)


@pytest.fixture
def engine(toy):
    engine = AsyncEngine(EngineConfig(kv_cache_memory=kv_gib_for_blocks(toy, 128)), toy)
    yield engine
    engine.shutdown()


async def collect(engine, prompt, params, request_id=None):
    return [o async for o in engine.generate(prompt, params, request_id)]


def test_streams_match_the_sync_engine(engine, toy):
    prompts = [[1, 2, 3], list(range(5, 40)), [7] * 20]
    params = SamplingParams(temperature=0.7, seed=3, max_tokens=15, ignore_eos=True)

    async def main():
        return await asyncio.gather(*(collect(engine, p, params) for p in prompts))

    streams = asyncio.run(main())
    expected = make_engine(toy, num_blocks=128).generate(prompts, params)
    for outputs, choices in zip(streams, expected):
        assert [t for o in outputs for t in o.new_token_ids] == choices[0].token_ids
        assert "".join(o.new_text for o in outputs) == outputs[-1].text == choices[0].text
        assert outputs[-1].finished and not any(o.finished for o in outputs[:-1])


def test_n_choices_stream_with_their_index(engine):
    async def main():
        return await collect(engine, [1, 2], SamplingParams(n=3, temperature=1.0, max_tokens=4, ignore_eos=True))

    outputs = asyncio.run(main())
    assert sorted({o.index for o in outputs}) == [0, 1, 2]
    assert sum(o.finished for o in outputs) == 3 and len(outputs) == 12


async def free_blocks_settled(engine):
    stats = await engine.get_stats()
    return stats["num_requests"], stats["num_free_blocks"]


def test_aclose_aborts_and_frees_blocks(engine):
    async def main():
        start = await free_blocks_settled(engine)
        stream = engine.generate(list(range(1, 40)), LONG)
        seen = [await stream.__anext__() for _ in range(3)]
        assert (await engine.get_stats())["num_free_blocks"] < start[1]
        await stream.aclose()
        return start, seen, await free_blocks_settled(engine)

    start, seen, end = asyncio.run(main())
    assert len(seen) == 3 and end == start == (0, start[1])


def test_cancelled_consumer_aborts_and_frees_blocks(engine):
    async def main():
        start = await free_blocks_settled(engine)
        got_some = asyncio.Event()

        async def consume():
            async for output in engine.generate(list(range(1, 40)), LONG):
                if output.num_completion_tokens == 2:
                    got_some.set()

        task = asyncio.create_task(consume())
        await got_some.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return start, await free_blocks_settled(engine)

    start, end = asyncio.run(main())
    assert end == start


def test_abort_by_id_ends_the_stream_with_abort(engine):
    async def main():
        outputs = []
        async for output in engine.generate([1, 2, 3], LONG, request_id="req-1"):
            outputs.append(output)
            if len(outputs) == 2:
                engine.abort("req-1")
        return outputs

    outputs = asyncio.run(main())
    assert outputs[-1].finish_reason == "abort" and outputs[-1].new_token_ids == []


def test_bad_requests_raise_in_the_consumer(engine):
    async def main():
        with pytest.raises(ValueError):
            await collect(engine, [], SamplingParams())
        first = engine.generate([1, 2], LONG, request_id="dup")
        await first.__anext__()
        with pytest.raises(ValueError):
            await collect(engine, [1, 2], SamplingParams(), request_id="dup")
        await first.aclose()
        # The engine keeps serving.
        return await collect(engine, [1, 2], SamplingParams(max_tokens=2, ignore_eos=True))

    assert len(asyncio.run(main())) == 2


def test_shutdown_ends_streams_in_flight(toy):
    engine = AsyncEngine(EngineConfig(kv_cache_memory=kv_gib_for_blocks(toy, 64)), toy)

    async def main():
        stream = engine.generate([1, 2, 3], LONG)
        await stream.__anext__()
        await asyncio.to_thread(engine.shutdown)
        with pytest.raises(RuntimeError):
            async for _ in stream:
                pass
        with pytest.raises(RuntimeError):
            await collect(engine, [1, 2], SamplingParams())

    asyncio.run(main())
