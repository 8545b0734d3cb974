"""The sampler under any sampling values SamplingParams accepts, denormals and overflows included: the
token it draws is always one the masks allow, inside the real vocabulary (never an lm_head padding
row); a row the masks leave empty fails alone; nothing raises and no logprob is NaN."""

import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolwire.engine.failure import NO_ALLOWED_TOKEN
from toolwire.engine.sampler import Sampler
from toolwire.engine.sampling_params import SamplingParams
from toolwire.engine.sequence import Sequence

VOCAB = 40  # the tokenizer's
WIDTH = 48  # the lm_head's rows: 8 padding rows past the vocabulary
EOS = 0
INF = float("inf")

# Positive floats from the smallest denormal to the largest double, the corners first.
extreme = st.one_of(st.sampled_from([5e-324, 1e-300, 1e-45, 1e-38, 1e-5, 1.0, 3.4e38, 1e300, 1.7e308]),
                    st.floats(min_value=5e-324, max_value=1.7e308))
bias_value = st.one_of(st.sampled_from([-INF, INF, math.nan, -100.0, 100.0]),
                       st.floats(min_value=-1e30, max_value=1e30))
# A model's logit: ordinary or huge, or one the model itself made -inf, +inf or NaN.
logit = st.one_of(st.floats(min_value=-1e30, max_value=1e30), st.sampled_from([-INF, INF, math.nan]))


@st.composite
def sampling_params(draw) -> SamplingParams:
    return SamplingParams(
        temperature=draw(st.one_of(st.just(0.0), extreme, st.just(INF))),
        top_p=draw(st.one_of(st.sampled_from([5e-324, 1e-300, 1.0]), st.floats(min_value=5e-324, max_value=1.0))),
        top_k=draw(st.one_of(st.just(0), st.integers(1, 2 * WIDTH), st.integers(2**40, 2**70))),
        min_p=draw(st.one_of(st.sampled_from([0.0, 5e-324, 1.0]), st.floats(0.0, 1.0))),
        repetition_penalty=draw(extreme),
        presence_penalty=draw(st.floats(-2.0, 2.0)),
        frequency_penalty=draw(st.floats(-2.0, 2.0)),
        logit_bias=draw(st.dictionaries(st.integers(0, VOCAB - 1), bias_value, max_size=6)) or None,
        min_tokens=draw(st.integers(0, 2)),
        stop_token_ids=draw(st.lists(st.integers(0, VOCAB - 1), max_size=3)),
        logprobs=draw(st.one_of(st.none(), st.integers(0, 5), st.just(10**6))),
        seed=draw(st.one_of(st.none(), st.integers(0, 2**63 - 1))),
    )


@st.composite
def rows(draw):
    """(sequence, its logits row): the logits may hold masked (-inf) tokens, or mask everything."""
    params = draw(sampling_params())
    prompt = draw(st.lists(st.integers(0, VOCAB - 1), min_size=1, max_size=8))
    output = draw(st.lists(st.integers(0, VOCAB - 1), max_size=4))
    generator = torch.Generator().manual_seed(params.seed) if params.seed is not None else None
    seq = Sequence("r", prompt, params, generator=generator)
    seq.token_ids += output
    if draw(st.booleans()):
        values = draw(st.lists(logit, min_size=WIDTH, max_size=WIDTH))
    else:  # a grammar's mask: a few finite logits, the rest -inf (possibly all of them)
        allowed = draw(st.sets(st.integers(0, WIDTH - 1), max_size=4))
        values = [draw(st.floats(-50, 50)) if t in allowed else -INF for t in range(WIDTH)]
    if draw(st.booleans()):  # padding rows that would win if they were not masked
        values[VOCAB:] = [1e30] * (WIDTH - VOCAB)
    return seq, values


def allowed_tokens(seq: Sequence, values: list[float]) -> set[int]:
    """What the masks allow: the vocabulary, the model's finite (or +inf) logits, logit_bias bans
    (-inf or NaN), and min_tokens' suppression of EOS and stop tokens."""
    p = seq.params
    bias = p.logit_bias or {}
    banned = set()
    if seq.num_output_tokens < p.min_tokens:
        banned = set(p.stop_token_ids) | ({EOS} if not p.ignore_eos else set())
    return {t for t in range(VOCAB)
            if not math.isnan(values[t]) and values[t] != -INF and t not in banned
            and not (t in bias and (math.isnan(bias[t]) or bias[t] == -INF))}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows(), min_size=1, max_size=5))
def test_draws_stay_inside_what_the_masks_allow(batch):
    seqs = [seq for seq, _ in batch]
    logits = torch.tensor([values for _, values in batch], dtype=torch.float32)
    before = logits.clone()
    out = Sampler({EOS}, seed=0, vocab_size=VOCAB)(logits, seqs)
    assert torch.equal(logits.isnan(), before.isnan())
    assert torch.equal(logits.nan_to_num(), before.nan_to_num())  # the caller's logits are untouched
    for row, (seq, values) in enumerate(batch):
        allowed = allowed_tokens(seq, values)
        if not allowed:
            assert out.failures[row] == NO_ALLOWED_TOKEN
            continue
        assert out.failures[row] is None
        token = out.token_ids[row]
        assert 0 <= token < VOCAB and token in allowed
        if seq.params.logprobs is not None:
            entry = out.logprobs[row]
            assert entry.token_id == token and not math.isnan(entry.logprob)
            assert not any(math.isnan(lp) for _, lp in entry.top_logprobs)


def test_the_issue_case_repetition_penalty_5e_324_draws_a_real_token():
    """Issue 16: repetition_penalty 5e-324 is 0 in float32, which turned the logits into inf/NaN and
    the draw into token id VOCAB (one past the last)."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, WIDTH, generator=generator) * 5
    for temperature in (0.0, 1.0):
        params = SamplingParams(temperature=temperature, repetition_penalty=5e-324)
        seqs = [Sequence("r", list(range(VOCAB)), params), Sequence("r", [1, 2, 3], params)]
        out = Sampler({EOS}, vocab_size=VOCAB)(logits, seqs)
        assert out.failures == [None, None]
        assert all(0 <= t < VOCAB for t in out.token_ids)


def test_padding_rows_are_never_drawn_even_when_they_win():
    logits = torch.zeros(3, WIDTH)
    logits[:, VOCAB:] = 1e30
    seqs = [Sequence("r", [1], SamplingParams(temperature=t)) for t in (0.0, 1.0, 100.0)]
    for _ in range(20):
        out = Sampler({EOS}, vocab_size=VOCAB)(logits, seqs)
        assert all(t < VOCAB for t in out.token_ids) and out.failures == [None] * 3


def test_a_row_with_nothing_allowed_fails_alone():
    logits = torch.randn(3, WIDTH)
    logits[1, :VOCAB] = -INF  # e.g. guided_regex "[^\s\S]": xgrammar's mask allows no token
    seqs = [Sequence("r", [1], SamplingParams(temperature=t)) for t in (0.0, 0.0, 0.7)]
    out = Sampler({EOS}, vocab_size=VOCAB)(logits, seqs)
    assert out.failures == [None, NO_ALLOWED_TOKEN, None]
    assert out.failures[1].caused_by_request
    assert out.token_ids[0] == int(logits[0, :VOCAB].argmax())
