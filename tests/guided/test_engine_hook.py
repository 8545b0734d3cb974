"""The compiled constraint plugged into the engine's hook (SamplingParams.constraint_factory): a
random-weight toy model, sampling freely, still writes a tool call the parser reads, and stops there."""

from __future__ import annotations

import pytest
import torch

from tests.engine.toy_models import toy_loaded_model
from tests.guided.helpers import parse_calls
from toolwire.engine import EngineConfig, LLMEngine, SamplingParams
from toolwire.guided import GuidedDecoding, Tool, ToolCallsSpec

# Only enums and booleans: a random model cannot wander off into an endless string or number.
TOOLS = (
    Tool("set_light", {"type": "object", "properties": {
        "room": {"enum": ["kitchen", "hall", "attic"]}, "on": {"type": "boolean"}}, "required": ["room", "on"]}),
    Tool("lock_door", {"type": "object", "properties": {"door": {"enum": ["front", "back"]}},
                       "required": ["door"]}),
)


@pytest.fixture(scope="module")
def toy():
    loaded = toy_loaded_model()
    guided = GuidedDecoding.for_tokenizer(loaded.tokenizer, vocab_size=loaded.config.vocab_size,
                                          stop_token_ids=sorted(loaded.eos_token_ids))
    yield loaded, guided
    guided.shutdown()


@pytest.mark.parametrize("mode", ["required", "named"])
def test_engine_samples_under_the_constraint(toy, mode):
    loaded, guided = toy
    engine = LLMEngine(EngineConfig(kv_cache_memory=0.01, block_size=16), loaded)
    spec = ToolCallsSpec(format="hermes", tools=TOOLS, mode=mode, parallel=False,
                         name="lock_door" if mode == "named" else None)
    compiled = guided.compile(spec)
    prompt = loaded.tokenizer.encode("User: what is the weather like today? Assistant:")
    params = SamplingParams(n=3, temperature=1.0, seed=7, max_tokens=200, constraint_factory=compiled)
    torch.manual_seed(0)
    completions = engine.generate([prompt], params)[0]
    for completion in completions:
        assert completion.finish_reason == "stop", completion
        text = loaded.tokenizer.decode(completion.token_ids, skip_special_tokens=True)
        calls, content = parse_calls("hermes", text, TOOLS)
        assert len(calls) == 1 and not (content or "").strip(), text
        name, arguments = calls[0]
        assert name in {"set_light", "lock_door"} and (mode != "named" or name == "lock_door")
