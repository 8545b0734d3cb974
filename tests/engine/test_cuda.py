"""The engine on one GPU: CUDA graphs for decode must give what eager execution gives."""

import random

import pytest
import torch

from toolwire.engine import EngineConfig, LLMEngine, SamplingParams
from tests.engine.conftest import kv_gib_for_blocks, random_prompt
from tests.engine.toy_models import toy_loaded_model

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU"),
]


@pytest.fixture(scope="module")
def cuda_toy():
    loaded = toy_loaded_model()
    loaded.model.to("cuda")
    return loaded


def cuda_engine(loaded, **config):
    return LLMEngine(EngineConfig(kv_cache_memory=kv_gib_for_blocks(loaded, 512), device="cuda",
                                  max_num_seqs=16, **config), loaded)


def test_decode_graphs_are_captured_and_match_eager(cuda_toy):
    rng = random.Random(0)
    vocab = cuda_toy.config.vocab_size
    # 5 and 11 sequences: batches padded up to the captured sizes 8 and 16, and shrinking as they end.
    prompts = [random_prompt(rng, rng.randrange(3, 50), vocab) for _ in range(11)]
    params = [SamplingParams(temperature=0 if i % 2 else 0.8, seed=i, max_tokens=8 + 3 * i,
                             ignore_eos=True, logprobs=2) for i in range(11)]
    graphs = cuda_engine(cuda_toy)
    assert graphs.runner.decode_graphs is not None
    assert graphs.runner.decode_graphs.batch_sizes == [1, 2, 4, 8, 16]
    eager = cuda_engine(cuda_toy, enforce_eager=True)
    assert eager.runner.decode_graphs is None
    for count in (5, 11):
        got = graphs.generate(prompts[:count], params[:count])
        expected = eager.generate(prompts[:count], params[:count])
        for g, e in zip(got, expected):
            assert g[0].token_ids == e[0].token_ids
            for a, b in zip(g[0].logprobs, e[0].logprobs):
                assert a.logprob == pytest.approx(b.logprob, abs=1e-3)


def test_cuda_matches_cpu_greedy():
    cpu, gpu = toy_loaded_model(), toy_loaded_model()
    gpu.model.to("cuda")
    prompt = list(range(1, 30))
    params = SamplingParams(temperature=0, max_tokens=20, ignore_eos=True)
    on_cpu = LLMEngine(EngineConfig(kv_cache_memory=kv_gib_for_blocks(cpu, 64)), cpu).generate([prompt], params)
    on_gpu = cuda_engine(gpu).generate([prompt], params)
    assert on_cpu[0][0].token_ids == on_gpu[0][0].token_ids
