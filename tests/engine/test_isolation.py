"""One sequence's failure ends that sequence alone: its constraint raising while its mask is filled or
a token is accepted, a constraint that allows nothing, logits processing that cannot be done. The
other sequences of the same steps go on and produce exactly what they produce alone."""

import asyncio

import pytest

from toolwire.engine import AsyncEngine, EngineConfig, SamplingParams
from toolwire.engine.constraint import set_allowed
from tests.engine.conftest import kv_gib_for_blocks, make_engine

BYSTANDERS = [
    ([1, 2, 3], SamplingParams(temperature=0, max_tokens=12, ignore_eos=True)),
    ([9, 8, 7, 6], SamplingParams(temperature=1.0, seed=7, max_tokens=12, ignore_eos=True)),
]


class AllowAll:
    """A constraint that allows every token, until the step where it breaks (see the subclasses)."""

    def __init__(self, breaks_at: int = 3):
        self.breaks_at = breaks_at
        self.accepted = 0

    def fill_bitmask(self, bitmask_row):
        bitmask_row.fill_(-1)

    def accept_token(self, token_id):
        self.accepted += 1
        return True

    def is_terminated(self):
        return False


class FillRaises(AllowAll):
    def fill_bitmask(self, bitmask_row):
        if self.accepted == self.breaks_at:
            raise RuntimeError("the grammar's state is corrupt")
        super().fill_bitmask(bitmask_row)


class AcceptRaises(AllowAll):
    def accept_token(self, token_id):
        if self.accepted == self.breaks_at:
            raise ValueError("cannot advance")
        return super().accept_token(token_id)


class AllowsNothing(AllowAll):
    """What xgrammar's matcher does for guided_regex "[^\\s\\S]": a mask with no token in it."""

    def fill_bitmask(self, bitmask_row):
        set_allowed(bitmask_row, [])


def hostile(constraint=None, **params) -> SamplingParams:
    return SamplingParams(temperature=0.8, max_tokens=12, ignore_eos=True,
                          constraint_factory=constraint, **params)


HOSTILE = {
    "fill raises": (hostile(FillRaises), "the constraint's token mask failed: RuntimeError"),
    "accept raises": (hostile(AcceptRaises), "processing the new token failed: ValueError"),
    "allows nothing": (hostile(AllowsNothing), "no token may come next"),
    "logit_bias cannot be applied": (hostile(logit_bias={3: "not a number"}), "sampling failed"),
}


def test_each_failure_ends_its_sequence_only(toy):
    alone = make_engine(toy).generate([p for p, _ in BYSTANDERS], [s for _, s in BYSTANDERS])
    engine = make_engine(toy)
    hostile_params = [params for params, _ in HOSTILE.values()]
    prompts = [p for p, _ in BYSTANDERS] + [[4, 5, 6]] * len(hostile_params)
    results = engine.generate(prompts, [s for _, s in BYSTANDERS] + hostile_params)
    for together, by_itself in zip(results, alone):
        assert together[0].token_ids == by_itself[0].token_ids
        assert together[0].finish_reason == "length" and together[0].failure is None
    for (name, (_, message)), result in zip(HOSTILE.items(), results[len(BYSTANDERS):]):
        choice = result[0]
        assert choice.finish_reason == "error", name
        assert message in choice.failure.message, (name, choice.failure.message)
        assert choice.failure.caused_by_request == (name == "allows nothing")
    stats = engine.stats()
    assert stats["num_failed_seqs"] == len(HOSTILE) and stats["num_step_errors"] == 0
    assert stats["num_free_blocks"] == stats["num_usable_blocks"] and stats["num_requests"] == 0


def test_a_failing_choice_leaves_the_other_choices_of_its_request(toy):
    """n = 3 with a constraint whose third instance breaks: the other two choices run to the end."""
    made = []

    def factory():
        made.append(FillRaises(breaks_at=2) if len(made) == 2 else AllowAll())
        return made[-1]

    params = SamplingParams(n=3, temperature=1.0, max_tokens=8, ignore_eos=True, constraint_factory=factory)
    choices = make_engine(toy).generate([[1, 2]], params)[0]
    assert [c.finish_reason for c in choices] == ["length", "length", "error"]
    assert [len(c.token_ids) for c in choices] == [8, 8, 2]


@pytest.fixture
def async_engine(toy):
    engine = AsyncEngine(EngineConfig(kv_cache_memory=kv_gib_for_blocks(toy, 128)), toy)
    yield engine
    engine.shutdown()


def test_streams_alongside_a_failing_one_finish(async_engine):
    async def collect(prompt, params):
        return [o async for o in async_engine.generate(prompt, params)]

    async def main():
        streams = [collect(p, s) for p, s in BYSTANDERS] + [collect([4, 5], hostile(AllowsNothing))]
        return await asyncio.gather(*streams), await async_engine.get_stats()

    (*bystanders, failed), stats = asyncio.run(main())
    for outputs in bystanders:
        assert outputs[-1].finish_reason == "length" and len([o for o in outputs if o.new_token_ids]) == 12
    assert [o.finish_reason for o in failed] == ["error"] and failed[0].failure.caused_by_request
    assert stats["num_failed_seqs"] == 1 and stats["num_step_errors"] == 0
    assert stats["num_free_blocks"] == stats["num_usable_blocks"]
