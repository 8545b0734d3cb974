"""Our Llama-family model, loaded from an HF folder, against transformers' own implementation.

Every architecture, through the paged cache in every way the engine uses it: whole prefill, decode
step by step, a prefix-cache hit, mixed prefill + decode batches, batched decode of sequences of
different lengths, and recompute after preemption. Logits must agree within 1e-4 (fp32).
"""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest
import torch

from tests.models.paged import PagedLayout, PagedSequence
from tests.models.tiny_models import ARCHITECTURES, hf_logits, save_tiny_model
from toolwire.models import load_model

BLOCK_SIZE = 4
TOLERANCE = dict(atol=1e-4, rtol=0)


@pytest.fixture(scope="module", params=ARCHITECTURES)
def tiny(request, tmp_path_factory):
    folder, hf_model = save_tiny_model(request.param, tmp_path_factory.mktemp(request.param))
    loaded = load_model(str(folder), device="cpu", weights="exact", progress=False)
    return SimpleNamespace(arch=request.param, hf=hf_model, loaded=loaded, model=loaded.model)


@pytest.fixture
def pages():
    return PagedLayout(num_blocks=64, block_size=BLOCK_SIZE)


@pytest.fixture
def cache(tiny):
    return tiny.model.make_kv_cache(64, BLOCK_SIZE, torch.float32, "cpu")


def tokens(seed: int, length: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(4, 260) for _ in range(length)]


class Checker:
    """Runs batches and compares each row's logits with the HF model's logits for that position."""

    def __init__(self, tiny, pages: PagedLayout, cache):
        self.tiny, self.pages, self.cache = tiny, pages, cache
        self.references: dict[tuple[int, ...], torch.Tensor] = {}

    def reference(self, seq: PagedSequence) -> torch.Tensor:
        key = tuple(seq.token_ids)
        if key not in self.references:
            self.references[key] = hf_logits(self.tiny.hf, seq.token_ids)
        return self.references[key]

    def step(self, work: list[tuple[PagedSequence, int]]) -> torch.Tensor:
        batch, rows = self.pages.step(work)
        with torch.inference_mode():
            hidden = self.tiny.model.forward(batch, self.cache)
            logits = self.tiny.model.compute_logits(hidden[batch.logits_indices])
        assert logits.dtype == torch.float32
        expected = torch.stack([self.reference(seq)[position] for seq, position in rows])
        torch.testing.assert_close(logits, expected, **TOLERANCE)
        return logits


@pytest.fixture
def check(tiny, pages, cache):
    return Checker(tiny, pages, cache)


def test_config_flags(tiny):
    c = tiny.loaded.config
    assert c.num_layers == 2 and c.hidden_size == 64 and c.num_kv_heads == 2
    expected = {"qwen2": ("attention_bias", True), "qwen3": ("qk_norm", True), "granite": ("logits_scaling", 4.0),
                "mistral": ("layer_windows", (6, 6)), "llama": ("tie_word_embeddings", True)}
    if tiny.arch in expected:
        name, value = expected[tiny.arch]
        assert getattr(c, name) == value
    if tiny.arch == "llama3":
        assert c.rope_scaling.rope_type == "llama3"
        assert tiny.loaded.eos_token_ids == {1, 3}


def test_whole_prefill(check, pages):
    seq = pages.sequence(tokens(1, 19))
    check.step([(seq, 19)])


def test_decode_step_by_step(check, pages):
    seq = pages.sequence(tokens(2, 21))
    check.step([(seq, 5)])
    for _ in range(16):
        check.step([(seq, 1)])
    assert len(set(seq.block_table)) == 6


def test_prefix_cache_hit(check, pages):
    first = pages.sequence(tokens(3, 18))
    check.step([(first, 18)])
    shared = first.token_ids[:12]
    # 12 cached tokens (3 blocks) + a 7-token suffix: a chunk attending to a prefix it did not compute.
    second = pages.sequence(shared + tokens(4, 7), share_prefix_of=first, shared_blocks=3)
    check.step([(second, 7)])
    # A hit that leaves one new token goes down the decode path.
    third = pages.sequence(shared + tokens(5, 1), share_prefix_of=first, shared_blocks=3)
    check.step([(third, 1)])
    assert second.block_table[:3] == third.block_table[:3] == first.block_table[:3]


def test_mixed_prefill_and_decode_batch(check, pages):
    decoders = [pages.sequence(tokens(10 + i, 16)) for i in range(3)]
    for i, seq in enumerate(decoders):
        check.step([(seq, 6 + 3 * i)])  # different lengths: 6, 9, 12
    chunked = pages.sequence(tokens(20, 23))
    check.step([(chunked, 6)])  # first chunk of a chunked prefill
    # Decodes on both sides of the prefill chunk.
    check.step([(decoders[0], 1), (chunked, 7), (decoders[1], 1), (decoders[2], 1)])
    check.step([(chunked, 9), (decoders[0], 1), (decoders[2], 1)])
    check.step([(decoders[1], 1), (decoders[0], 1), (chunked, 1)])


def test_batched_decode_of_different_lengths(check, pages):
    seqs = [pages.sequence(tokens(30 + i, 24)) for i in range(4)]
    for seq, prompt in zip(seqs, (3, 9, 14, 17)):
        check.step([(seq, prompt)])
    for _ in range(6):
        check.step([(seq, 1) for seq in seqs])


def test_preempted_sequence_recomputes_the_same_logits(check, pages):
    seq = pages.sequence(tokens(40, 16))
    first_run = [check.step([(seq, 8)])]
    first_run += [check.step([(seq, 1)]) for _ in range(4)]
    blocks_before = list(seq.block_table)
    pages.preempt(seq)
    recomputed = check.step([(seq, 12)])
    assert not set(seq.block_table) & set(blocks_before)
    torch.testing.assert_close(recomputed, torch.cat(first_run), **TOLERANCE)
    for _ in range(4):
        check.step([(seq, 1)])
