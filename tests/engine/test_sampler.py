import torch

from toolwire.engine.sampler import Sampler
from toolwire.engine.sampling_params import SamplingParams
from toolwire.engine.sequence import Sequence

VOCAB = 50
EOS = 0


def seq(params, prompt=(1, 2, 3), output=(), seed=None):
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    s = Sequence("r", list(prompt), params, generator=generator)
    s.token_ids += list(output)
    return s


def logits_for(rows):
    generator = torch.Generator().manual_seed(0)
    return torch.randn(rows, VOCAB, generator=generator)


def sample(seqs, logits=None):
    logits = logits_for(len(seqs)) if logits is None else logits
    return Sampler({EOS}, seed=0)(logits.clone(), seqs)


def test_greedy_is_argmax():
    logits = logits_for(3)
    out = sample([seq(SamplingParams(temperature=0)) for _ in range(3)], logits)
    assert out.token_ids == logits.argmax(-1).tolist()
    assert out.logprobs == [None, None, None]


def test_top_k_1_and_tiny_top_p_are_argmax():
    logits = logits_for(2)
    seqs = [seq(SamplingParams(temperature=1.5, top_k=1)), seq(SamplingParams(temperature=1.5, top_p=1e-6))]
    for _ in range(5):
        assert sample(seqs, logits).token_ids == logits.argmax(-1).tolist()


def test_truncation_keeps_samples_inside_the_allowed_set():
    logits = logits_for(1)
    order = logits[0].argsort(descending=True).tolist()
    probs = logits[0].softmax(-1)
    cases = [
        (SamplingParams(top_k=5), set(order[:5])),
        (SamplingParams(min_p=0.5), {t for t in range(VOCAB) if probs[t] >= 0.5 * probs.max()}),
    ]
    cumulative = probs[order].cumsum(0)
    nucleus = set(order[:int((cumulative < 0.6).sum()) + 1])
    cases.append((SamplingParams(top_p=0.6), nucleus))
    sampler = Sampler({EOS}, seed=0)
    for params, allowed in cases:
        seen = {sampler(logits.clone(), [seq(params)]).token_ids[0] for _ in range(200)}
        assert seen <= allowed
        assert len(seen) > 1 or len(allowed) == 1


def test_logit_bias_and_min_tokens():
    logits = logits_for(2)
    logits[:, EOS] = 100.0
    biased = seq(SamplingParams(temperature=0, logit_bias={7: 500.0}))
    held = seq(SamplingParams(temperature=0, min_tokens=2, stop_token_ids=[3]))
    logits[1, 3] = 90.0
    out = sample([biased, held], logits)
    assert out.token_ids[0] == 7
    assert out.token_ids[1] not in (EOS, 3)
    released = seq(SamplingParams(temperature=0, min_tokens=2), output=[5, 6])
    assert sample([released], logits[1:]).token_ids == [EOS]


def test_penalties():
    logits = torch.zeros(1, VOCAB)
    logits[0, 1], logits[0, 2] = 2.0, 1.5
    # Token 1 is in the prompt: a repetition penalty of 2 halves its logit below token 2's.
    assert sample([seq(SamplingParams(temperature=0, repetition_penalty=2.0), prompt=[1])], logits).token_ids == [2]
    # Frequency and presence penalties look at the output only.
    assert sample([seq(SamplingParams(temperature=0, presence_penalty=1.0), prompt=[2])], logits).token_ids == [1]
    assert sample([seq(SamplingParams(temperature=0, frequency_penalty=0.3), output=[1, 1])], logits).token_ids == [2]
    assert sample([seq(SamplingParams(temperature=0, frequency_penalty=0.2), output=[1])], logits).token_ids == [1]


def test_seeded_rows_do_not_depend_on_the_batch():
    params = SamplingParams(temperature=1.0, seed=42)
    logits = logits_for(4)
    alone = sample([seq(params, seed=42)], logits[2:3]).token_ids[0]
    row = seq(params, seed=42)
    others = [seq(SamplingParams(temperature=1.0)), seq(SamplingParams(temperature=0)),
              seq(SamplingParams(temperature=0.5, seed=1), seed=1)]
    batched = sample([others[0], others[1], row, others[2]], logits)
    assert batched.token_ids[2] == alone
    # And the sequence's own generator moves on: the next draws follow its own stream only.
    fresh = seq(params, seed=42)
    draws_alone = [sample([fresh], logits[2:3]).token_ids[0] for _ in range(10)]
    mixed = seq(params, seed=42)
    draws_mixed = [sample([others[0], mixed], logits[1:3]).token_ids[1] for _ in range(10)]
    assert draws_alone == draws_mixed


def test_logprobs_follow_the_temperature_and_list_the_top_tokens():
    logits = logits_for(2)
    seqs = [seq(SamplingParams(temperature=0, logprobs=3)), seq(SamplingParams(temperature=0.5, logprobs=0))]
    out = sample(seqs, logits)
    expected = [torch.log_softmax(logits[0], -1), torch.log_softmax(logits[1] / 0.5, -1)]
    for i in range(2):
        entry = out.logprobs[i]
        assert entry.token_id == out.token_ids[i]
        assert abs(entry.logprob - float(expected[i][entry.token_id])) < 1e-5
    top = out.logprobs[0].top_logprobs
    assert [t for t, _ in top] == expected[0].topk(3).indices.tolist()
    assert out.logprobs[1].top_logprobs == []


def test_sampling_frequencies_follow_the_distribution():
    logits = torch.full((1, VOCAB), -1e9)
    logits[0, :3] = torch.tensor([0.5, 0.3, 0.2]).log()
    sampler = Sampler({EOS}, seed=0)
    draws = [sampler(logits.clone(), [seq(SamplingParams(temperature=1.0))]).token_ids[0] for _ in range(3000)]
    frequencies = [draws.count(t) / len(draws) for t in range(3)]
    assert all(abs(f - p) < 0.04 for f, p in zip(frequencies, [0.5, 0.3, 0.2]))


def test_top_p_reaching_past_the_first_candidates_sorts_in_full():
    vocab = 1000
    logits = torch.linspace(0, 0.01, vocab).unsqueeze(0)  # nearly flat: 90% needs ~900 tokens
    probs = logits[0].softmax(-1)
    order = probs.argsort(descending=True)
    nucleus = set(order[:int((probs[order].cumsum(0) < 0.9).sum()) + 1].tolist())
    sampler = Sampler({EOS}, seed=0)
    seqs = [seq(SamplingParams(temperature=1.0, top_p=0.9)), seq(SamplingParams(temperature=1.0, top_p=0.05))]
    seen = [set(), set()]
    for _ in range(100):
        for row, token in enumerate(sampler(logits.repeat(2, 1), seqs).token_ids):
            seen[row].add(token)
    assert seen[0] <= nucleus and len(seen[0]) > 50
    assert seen[1] <= set(order[:51].tolist())
