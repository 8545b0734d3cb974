"""Every format whose trained shape is expressible: random decoding under its grammar yields calls
that the format's own parser reads, naming offered tools, with schema-valid arguments."""

from __future__ import annotations

import jsonschema
import pytest

from tests.guided.helpers import drive, parse_calls
from toolwire.formats.registry import tool_call_family
from toolwire.guided import GuidedDecodingError, Tool, ToolCallsSpec

TOOLS = (
    Tool("get_weather", {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "hourly": {"type": "boolean"},
        },
        "required": ["city"],
    }),
    Tool("book_trip", {
        "type": "object",
        "properties": {
            "travellers": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "age": {"type": ["integer", "null"]}}, "required": ["name"]}},
            "budget": {"type": "number"},
            "notes": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["travellers", "budget"],
    }, strict=True),
    Tool("ping", None),
)

FORMATS = ["hermes", "qwen25", "mistral", "llama3_json", "llama3", "granite", "granite-20b-fc", "internlm",
           "jamba", "deepseekv3", "deepseekv31", "pythonic", "llama4_pythonic"]
SEEDS = range(3)


def check(calls, *, named=None, exactly_one=False, offered=TOOLS):
    assert calls, "no call parsed"
    if exactly_one:
        assert len(calls) == 1, calls
    tools = {tool.name: tool for tool in offered}
    for name, arguments in calls:
        assert name in tools
        assert named is None or name == named
        jsonschema.validate(arguments, tools[name].parameters or {"type": "object"})


def trigger_of(parser: str) -> str:
    return tool_call_family(parser).calls_grammar([("f", {"type": "object"})], parallel=True).trigger


@pytest.mark.parametrize("parser", FORMATS)
@pytest.mark.parametrize("mode", ["required", "named", "single"])
def test_forced_calls(guided, vocab, parser, mode):
    assert_forced_calls_parse_back(guided, vocab, parser, mode)


def assert_forced_calls_parse_back(guided, vocab, parser: str, mode: str, tools=TOOLS, seeds=SEEDS) -> None:
    """Text decoded (random allowed tokens) under the required / named / single-call grammar parses
    back to offered calls with schema-valid arguments, and nothing else."""
    if mode == "named":
        spec = ToolCallsSpec(format=parser, tools=tools, mode="named", name="book_trip")
    else:
        spec = ToolCallsSpec(format=parser, tools=tools, mode="required", parallel=mode != "single")
    compiled = guided.compile(spec)
    for seed in seeds:
        text = drive(compiled(), vocab, seed)
        calls, content = parse_calls(parser, text, tools)
        try:
            check(calls, named=spec.name, exactly_one=mode != "required", offered=tools)
        except Exception as exc:
            raise AssertionError(f"{parser} seed {seed}: {exc}\n{text!r}") from exc
        assert not (content or "").strip(), (content, text)


@pytest.mark.parametrize("parser", [p for p in FORMATS if p != "pythonic"])
@pytest.mark.parametrize("parallel", [True, False])
def test_auto_calls_after_the_trigger(guided, vocab, tokenizer, parser, parallel):
    spec = ToolCallsSpec(format=parser, tools=TOOLS, mode="auto", parallel=parallel)
    compiled = guided.compile(spec)
    lead_in = "Checking the forecast. "
    prefix = tokenizer.encode(lead_in + trigger_of(parser), add_special_tokens=False)
    for seed in SEEDS:
        text = drive(compiled(), vocab, seed, prefix_ids=prefix)
        calls, content = parse_calls(parser, text, TOOLS)
        try:
            check(calls, exactly_one=not parallel)
        except Exception as exc:
            raise AssertionError(f"{parser} seed {seed}: {exc}\n{text!r}") from exc
        assert content is not None and content.startswith(lead_in.strip()), content


@pytest.mark.parametrize("parser,opening", [("pythonic", "["), ("llama3_json", "{"), ("llama3", "{")])
def test_auto_reply_that_opens_with_a_bare_payload_is_calls(guided, vocab, tokenizer, parser, opening):
    """Formats whose block may open without a marker: a reply that starts like a payload is calls."""
    compiled = guided.compile(ToolCallsSpec(format=parser, tools=TOOLS, mode="auto"))
    prefix = tokenizer.encode(" " + opening, add_special_tokens=False)
    for seed in SEEDS:
        text = drive(compiled(), vocab, seed, prefix_ids=prefix)
        calls, content = parse_calls(parser, text, TOOLS)
        check(calls)
        assert not (content or "").strip(), (content, text)


@pytest.mark.parametrize("parser", ["hermes", "mistral", "pythonic", "llama3_json"])
def test_auto_free_text_may_end_without_a_call(guided, vocab, tokenizer, parser):
    compiled = guided.compile(ToolCallsSpec(format=parser, tools=TOOLS, mode="auto"))
    constraint = compiled()
    for token in tokenizer.encode("The weather is fine today.", add_special_tokens=False):
        assert constraint.accept_token(token)
    assert constraint.is_completed()
    assert constraint.accept_token(vocab.stop_token_ids[0])
    assert constraint.is_terminated()


@pytest.mark.parametrize("text", ["<b>Bold</b> claim, {not a call}.", "Sure: [1, 2]", "  plain"])
def test_bare_payload_formats_leave_other_replies_free(guided, vocab, tokenizer, text):
    for parser in ("llama3_json", "pythonic"):
        constraint = guided.compile(ToolCallsSpec(format=parser, tools=TOOLS, mode="auto"))()
        for token in tokenizer.encode(text, add_special_tokens=False):
            assert constraint.accept_token(token), (parser, text)
        assert constraint.accept_token(vocab.stop_token_ids[0])


def test_auto_with_a_content_format_is_calls_or_that_format(guided, vocab, tokenizer):
    import json

    from toolwire.guided import JsonSpec

    spec = ToolCallsSpec(format="hermes", tools=TOOLS, mode="auto", content=JsonSpec({
        "type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}))
    compiled = guided.compile(spec)
    as_json = drive(compiled(), vocab, 0, prefix_ids=tokenizer.encode('{"', add_special_tokens=False))
    assert set(json.loads(as_json)) == {"answer"}
    as_call = drive(compiled(), vocab, 1, prefix_ids=tokenizer.encode("<tool_call>", add_special_tokens=False))
    check(parse_calls("hermes", as_call, TOOLS)[0])
    free = compiled()
    assert not free.accept_token(tokenizer.encode("Hello", add_special_tokens=False)[0])


def test_mistral_name_then_json_payload(guided, vocab):
    """Mistral v11+ models write `[TOOL_CALLS]f{...}` (v13: `[TOOL_CALLS]f[ARGS]{...}`), a payload kind
    the mistral format also lists: the spec can ask for it."""
    spec = ToolCallsSpec(format="mistral", tools=TOOLS, mode="required", payload="name_then_json")
    compiled = guided.compile(spec)
    texts = [drive(compiled(), vocab, seed) for seed in SEEDS]
    for text in texts:
        assert text.lstrip().startswith("[TOOL_CALLS]") and "[{" not in text
        check(parse_calls("mistral", text, TOOLS)[0])
    with pytest.raises(GuidedDecodingError, match="json_objects|no payload kind"):
        guided.compile(ToolCallsSpec(format="jamba", tools=TOOLS, mode="required", payload="name_then_json"))


def test_every_registered_parser_has_a_grammar(guided):
    from toolwire.formats.registry import ToolParserManager

    builtin = [name for name in ToolParserManager.names()
               if ToolParserManager.get_tool_parser(name).__module__.startswith("toolwire.formats.")]
    assert {"hermes", "mistral", "pythonic", "deepseek_v31"} <= set(builtin)
    for name in builtin:  # plugins registered by other tests declare no format
        assert tool_call_family(name).constrainable
        assert guided.compile(ToolCallsSpec(format=name, tools=TOOLS[:1], mode="required")) is not None
