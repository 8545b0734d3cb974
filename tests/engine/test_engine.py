"""The engine end to end on a tiny random transformer (ToyLM) over the paged KV cache."""

import random

import pytest
import torch

from toolwire.engine import SamplingParams
from tests.engine.conftest import make_engine, random_prompt
from tests.engine.reference import full_prefill_logits

GREEDY = SamplingParams(temperature=0, max_tokens=24, ignore_eos=True)
SEEDED = SamplingParams(temperature=0.8, top_p=0.9, seed=123, max_tokens=24, ignore_eos=True)


def tokens_of(engine, prompts, params):
    return [choices[0].token_ids for choices in engine.generate(prompts, params)]


def assert_logprobs_match_full_prefill(model, prompt, completion, temperature=1.0, atol=1e-4):
    """Every generated token's full logprob vector equals a plain prefill of the final sequence."""
    logits = full_prefill_logits(model, prompt + completion.token_ids) / temperature
    expected = torch.log_softmax(logits, dim=-1)
    for i, token_logprobs in enumerate(completion.logprobs):
        got = torch.full((expected.shape[1],), float("nan"))
        ids, values = zip(*token_logprobs.top_logprobs)
        got[list(ids)] = torch.tensor(values)
        torch.testing.assert_close(got, expected[len(prompt) - 1 + i], atol=atol, rtol=0)


def test_batch_invariance_greedy_and_seeded(tiny):
    rng = random.Random(0)
    vocab = tiny.config.vocab_size
    greedy_prompt, seeded_prompt = random_prompt(rng, 37, vocab), random_prompt(rng, 5, vocab)
    alone = make_engine(tiny)
    greedy_alone = tokens_of(alone, [greedy_prompt], GREEDY)[0]
    seeded_alone = tokens_of(alone, [seeded_prompt], SEEDED)[0]

    others = [
        SamplingParams(temperature=0, max_tokens=rng.randrange(4, 30), ignore_eos=True),
        SamplingParams(temperature=1.0, max_tokens=20, ignore_eos=True),
        SamplingParams(temperature=0.7, top_k=20, seed=7, max_tokens=30, ignore_eos=True),
        SamplingParams(temperature=1.2, min_p=0.05, repetition_penalty=1.3, max_tokens=12),
        SamplingParams(temperature=0, frequency_penalty=0.5, presence_penalty=0.5, max_tokens=16),
    ]
    prompts = [greedy_prompt, seeded_prompt]
    params = [GREEDY, SEEDED]
    for i in range(14):
        prompts.append(random_prompt(rng, rng.randrange(2, 70), vocab))
        params.append(others[i % len(others)])
    order = list(range(16))
    rng.shuffle(order)
    # A small token budget mixes prefill chunks with decodes in most steps.
    batched = make_engine(tiny, max_num_batched_tokens=48)
    results = batched.generate([prompts[i] for i in order], [params[i] for i in order])
    by_index = {i: result[0].token_ids for i, result in zip(order, results)}
    assert by_index[0] == greedy_alone
    assert by_index[1] == seeded_alone


def test_same_seed_same_tokens_and_different_seeds_differ(toy):
    engine = make_engine(toy)
    prompt = [5, 6, 7, 8]
    a, b = tokens_of(engine, [prompt, prompt], SEEDED)
    c = tokens_of(engine, [prompt], SamplingParams(temperature=0.8, top_p=0.9, seed=124, max_tokens=24,
                                                   ignore_eos=True))[0]
    assert a == b and a != c


def test_preemption_recomputes_to_the_same_tokens_and_logits(tiny):
    rng = random.Random(1)
    vocab = tiny.config.vocab_size
    prompts = [random_prompt(rng, rng.randrange(10, 40), vocab) for _ in range(8)]
    params = [SamplingParams(temperature=0 if i % 2 else 0.9, seed=i, max_tokens=40, ignore_eos=True,
                             logprobs=vocab) for i in range(8)]
    big = make_engine(tiny, num_blocks=256)
    expected = big.generate(prompts, params)
    small = make_engine(tiny, num_blocks=12, max_num_batched_tokens=64)  # 11 usable blocks: 176 slots
    got = small.generate(prompts, params)
    assert small.stats()["num_preemptions"] > 0
    assert [r[0].token_ids for r in got] == [r[0].token_ids for r in expected]
    assert all(r[0].finish_reason == "length" for r in got)
    for prompt, p, result in zip(prompts, params, got):
        assert_logprobs_match_full_prefill(tiny.model, prompt, result[0], p.temperature or 1.0)
    assert small.block_manager.num_free_blocks == small.block_manager.num_usable_blocks


def test_prefix_cache_hit_gives_the_same_tokens_and_logits(tiny):
    rng = random.Random(2)
    vocab = tiny.config.vocab_size
    shared = random_prompt(rng, 40, vocab)
    first, second = shared, shared[:32] + random_prompt(rng, 9, vocab)
    params = SamplingParams(temperature=0, max_tokens=10, ignore_eos=True, logprobs=vocab)
    cached = make_engine(tiny)
    cached.generate([first], params)
    hit = cached.generate([second], params)[0][0]
    assert hit.num_cached_tokens == 32
    uncached = make_engine(tiny, enable_prefix_caching=False)
    uncached.generate([first], params)
    miss = uncached.generate([second], params)[0][0]
    assert miss.num_cached_tokens == 0
    assert hit.token_ids == miss.token_ids
    assert_logprobs_match_full_prefill(tiny.model, second, hit)
    # The same prompt again is served from the cache but for its last block.
    assert cached.generate([second], params)[0][0].num_cached_tokens == 32


def test_prefix_cache_reuses_blocks_of_generated_tokens(toy):
    engine = make_engine(toy)
    prompt = list(range(1, 21))
    done = engine.generate([prompt], SamplingParams(temperature=0, max_tokens=30, ignore_eos=True))[0][0]
    follow_up = prompt + done.token_ids + [3, 4, 5]
    assert engine.generate([follow_up], GREEDY)[0][0].num_cached_tokens == 48


def test_hash_collisions_do_not_change_results(tiny):
    rng = random.Random(3)
    prompts = [random_prompt(rng, 35, tiny.config.vocab_size) for _ in range(3)]
    colliding = make_engine(tiny)
    colliding.block_manager.hash_fn = lambda parent, tokens: 1234
    plain = make_engine(tiny, enable_prefix_caching=False)
    for prompt in prompts + prompts:
        assert tokens_of(colliding, [prompt], GREEDY) == tokens_of(plain, [prompt], GREEDY)


def test_abort_frees_blocks_while_running_and_while_waiting(toy):
    engine = make_engine(toy, num_blocks=64, max_num_seqs=1)
    start = engine.block_manager.num_free_blocks
    engine.add_request("run", list(range(1, 30)), SamplingParams(max_tokens=100, ignore_eos=True))
    engine.add_request("wait", list(range(1, 30)), SamplingParams(max_tokens=100, ignore_eos=True))
    for _ in range(3):
        engine.step()
    assert engine.block_manager.num_free_blocks < start
    outputs = engine.abort_request("run") + engine.abort_request("wait")
    assert [(o.request_id, o.finish_reason) for o in outputs] == [("run", "abort"), ("wait", "abort")]
    assert engine.block_manager.num_free_blocks == start
    assert not engine.has_unfinished_requests() and engine.step() == []


def test_n_choices_and_their_indices(toy):
    engine = make_engine(toy)
    params = SamplingParams(n=3, temperature=1.0, seed=5, max_tokens=12, ignore_eos=True)
    choices = engine.generate([[1, 2, 3]], params)[0]
    assert [c.index for c in choices] == [0, 1, 2]
    assert len({tuple(c.token_ids) for c in choices}) == 3
    assert all(len(c.token_ids) == 12 and c.finish_reason == "length" for c in choices)
    # Choice 0 with a seed is the same as the n=1 request with that seed.
    single = engine.generate([[1, 2, 3]], SamplingParams(temperature=1.0, seed=5, max_tokens=12,
                                                         ignore_eos=True))[0][0]
    assert single.token_ids == choices[0].token_ids


def test_greedy_logprobs_are_the_log_softmax_of_the_logits(tiny):
    engine = make_engine(tiny)
    prompt = [9, 8, 7, 6, 5]
    result = engine.generate([prompt], SamplingParams(temperature=0, max_tokens=8, ignore_eos=True,
                                                      logprobs=3))[0][0]
    expected = torch.log_softmax(full_prefill_logits(tiny.model, prompt + result.token_ids), dim=-1)
    assert len(result.logprobs) == 8
    for i, entry in enumerate(result.logprobs):
        row = expected[len(prompt) - 1 + i]
        assert entry.token_id == result.token_ids[i] == int(row.argmax())
        assert entry.logprob == pytest.approx(float(row[entry.token_id]), abs=1e-4)
        assert len(entry.top_logprobs) == 3 and entry.top_logprobs[0][0] == entry.token_id
        assert [v for _, v in entry.top_logprobs] == sorted((v for _, v in entry.top_logprobs), reverse=True)


def test_prompt_validation(toy):
    engine = make_engine(toy, max_model_len=64)
    with pytest.raises(ValueError):
        engine.add_request("long", list(range(1, 65)))
    with pytest.raises(ValueError):
        engine.add_request("empty", [])
    with pytest.raises(ValueError):
        engine.add_request("oov", [toy.config.vocab_size])
    engine.add_request("ok", [1, 2])
    with pytest.raises(ValueError):
        engine.add_request("ok", [1, 2])


def test_max_model_len_ends_with_length(toy):
    engine = make_engine(toy, max_model_len=40)
    result = engine.generate([list(range(1, 31))], SamplingParams(max_tokens=None, ignore_eos=True))[0][0]
    assert result.finish_reason == "length" and len(result.token_ids) == 10
