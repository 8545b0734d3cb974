"""The harmony calls' grammar: random decoding under tool_choice required / named / auto (with the
analysis channel free before it) yields calls the `openai` parser reads, naming offered tools, with
schema-valid arguments."""

from __future__ import annotations

import pytest

from tests.guided.conftest import guided, one_torch_thread, tokenizer, vocab  # noqa: F401 (fixtures)
from tests.guided.helpers import drive, parse_calls
from tests.guided.test_formats import SEEDS, TOOLS, check
from toolwire.formats.families.harmony.reasoning import REASONING_REGION
from toolwire.guided import ToolCallsSpec

ANALYSIS = "<|channel|>analysis<|message|>The user wants Paris weather.<|end|><|start|>assistant"


@pytest.mark.parametrize("mode", ["required", "named", "single"])
@pytest.mark.parametrize("reasoning", [False, True])
def test_forced_calls(guided, vocab, tokenizer, mode, reasoning):
    spec = ToolCallsSpec(format="openai", tools=TOOLS, mode="named" if mode == "named" else "required",
                         name="book_trip" if mode == "named" else None, parallel=mode == "required",
                         reasoning=REASONING_REGION if reasoning else None)
    compiled = guided.compile(spec)
    prefix = tokenizer.encode(ANALYSIS, add_special_tokens=False) if reasoning else []
    for seed in SEEDS:
        text = drive(compiled(), vocab, seed, prefix_ids=prefix)
        calls, content = parse_calls("openai", text, TOOLS)
        try:
            check(calls, named=spec.name, exactly_one=mode != "required")
        except Exception as exc:
            raise AssertionError(f"seed {seed}: {exc}\n{text!r}") from exc
        body = text.removeprefix(ANALYSIS) if reasoning else text
        assert body.lstrip().startswith("<|channel|>commentary to=functions."), text
        assert (content or "") == ("The user wants Paris weather." if reasoning else ""), text


@pytest.mark.parametrize("lead_in", ["<|channel|>commentary to=functions.",
                                     "<|channel|>commentary<|message|>Let me check.<|end|><|start|>assistant to=functions."])
def test_auto_holds_a_call_from_its_recipient_on(guided, vocab, tokenizer, lead_in):
    compiled = guided.compile(ToolCallsSpec(format="openai", tools=TOOLS, mode="auto", parallel=False,
                                            reasoning=REASONING_REGION))
    prefix = tokenizer.encode(ANALYSIS + lead_in, add_special_tokens=False)
    for seed in SEEDS:
        text = drive(compiled(), vocab, seed, prefix_ids=prefix)
        check(parse_calls("openai", text, TOOLS)[0], exactly_one=True)


def test_auto_leaves_the_answer_free(guided, tokenizer):
    constraint = guided.compile(ToolCallsSpec(format="openai", tools=TOOLS, mode="auto", reasoning=REASONING_REGION))()
    for token_id in tokenizer.encode(ANALYSIS + "<|channel|>final<|message|>It is sunny.<|return|>",
                                     add_special_tokens=False):
        assert constraint.accept_token(token_id)
