"""The engine on the default model (SmolLM2-135M-Instruct): exact against the model itself with exact
weights, and coherent as served (where small decode batches use compact weights)."""

import pytest
import torch

from toolwire.engine import EngineConfig, LLMEngine, SamplingParams
from tests.engine.reference import full_prefill_logits, greedy_tokens

pytestmark = pytest.mark.slow

MESSAGES = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


def load_default(weights: str):
    from toolwire.models import load_model

    return load_model(None, device="cpu", weights=weights, progress=False)


@pytest.fixture(scope="module")
def exact_model():
    return load_default("exact")


@pytest.fixture(scope="module")
def exact_engine(exact_model):
    return LLMEngine(EngineConfig(kv_cache_memory=0.25), exact_model)


def chat_prompt(loaded) -> list[int]:
    text = loaded.tokenizer.apply_chat_template(MESSAGES, chat_template=loaded.chat_template,
                                                tokenize=False, add_generation_prompt=True)
    return loaded.tokenizer.encode(text, add_special_tokens=False)


def test_greedy_answer_is_the_model_level_greedy_answer(exact_model, exact_engine):
    prompt = chat_prompt(exact_model)
    result = exact_engine.generate([prompt], SamplingParams(temperature=0, max_tokens=24))[0][0]
    assert "Paris" in result.text
    assert result.token_ids == greedy_tokens(exact_model.model, prompt, len(result.token_ids))


def test_batched_and_cached_logits_match_a_full_prefill(exact_model, exact_engine):
    prompt = chat_prompt(exact_model)
    params = SamplingParams(temperature=0, max_tokens=6, ignore_eos=True, logprobs=5)
    others = [prompt[:-3], list(reversed(prompt)), prompt + prompt[:10]]
    results = exact_engine.generate([prompt] + others, params)  # prompt is cached from the test before
    assert results[0][0].num_cached_tokens > 0
    for tokens, result in zip([prompt] + others, results):
        completion = result[0]
        expected = torch.log_softmax(full_prefill_logits(exact_model.model, tokens + completion.token_ids), -1)
        for i, entry in enumerate(completion.logprobs):
            row = expected[len(tokens) - 1 + i]
            assert entry.logprob == pytest.approx(float(row[entry.token_id]), abs=1e-3)


def test_served_model_answers_coherently():
    served = load_default("auto")
    engine = LLMEngine(EngineConfig(kv_cache_memory=0.25), served)
    result = engine.generate([chat_prompt(served)], SamplingParams(temperature=0, max_tokens=24))[0][0]
    assert "Paris" in result.text and result.finish_reason == "stop"
