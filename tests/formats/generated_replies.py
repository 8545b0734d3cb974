"""Hypothesis strategies for model replies in each format, each with the content and calls it holds.

A reply is content pieces and calls, rendered the way the family's models write them (with the
variations the format allows: markers' spellings, whitespace, key order, `parameters` for
`arguments`, arguments as a JSON-encoded string, two objects in one block, closing markers missing
or cut off at the end of the output ...). The generator knows the truth: the parser's whole-text result must equal it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from hypothesis import strategies as st

from toolwire.formats.families.deepseek import deepseek_marker

TOOL_NAMES = ("get_weather", "search", "run_code")

# Text that stresses a parser inside JSON strings: braces, brackets, quotes, backslashes, every
# family's markers, separators, non-ASCII.
TRICKY_PIECES = [
    "{", "}", "[", "]", '"', "\\", "'", ",", ";", ":", "\n", "\t", " ", "a", "b", "é", "中", "😀",
    "</tool_call>", "<tool_call>", "[TOOL_CALLS]", "[ARGS]", "<|python_tag|>", "<|action_end|>",
    "</tool_calls>", "<function_call>", "```", "<｜tool▁call▁end｜>", "<|tool▁sep|>", "\\n", "\u2028",
    "<|tool_call_end|>", "<|tool_calls_section_end|>", "<|tool_call_begin|>", "functions.f:0", "<|python_end|>",
]
tricky_text = st.lists(st.sampled_from(TRICKY_PIECES), max_size=6).map("".join)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    tricky_text,
    st.text(max_size=8),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(tricky_text | st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
arguments_objects = st.dictionaries(st.text(min_size=1, max_size=6) | tricky_text, json_values, max_size=4)

# Content: plain text and markup-looking text that is not a call.
CONTENT_PIECES = ["Hello", " ", "\n", "a < b", "<b>", "</b>", "{braces}", "[x]", "é中😀", "ok.", "|", ">", "<"]
content_text = st.lists(st.sampled_from(CONTENT_PIECES), max_size=5).map("".join)


@dataclass
class GeneratedCall:
    name: str
    arguments: str  # the arguments text the parser must return
    rendered_arguments: str  # how the reply writes them: that text, or a JSON string holding it


@dataclass
class GeneratedReply:
    text: str = ""
    content: str = ""
    calls: list[tuple[str, str]] = field(default_factory=list)

    def add_content(self, piece: str) -> None:
        self.text += piece
        if piece.strip():  # whitespace-only text at a block boundary is not content
            self.content += piece


@st.composite
def generated_calls(draw, allow_string_arguments: bool = True) -> GeneratedCall:
    name = draw(st.sampled_from(TOOL_NAMES))
    arguments = draw(arguments_objects)
    text = json.dumps(
        arguments,
        ensure_ascii=draw(st.booleans()),
        separators=draw(st.sampled_from([None, (",", ":")])),
        indent=draw(st.sampled_from([None, None, 2])),
    )
    rendered = text
    if allow_string_arguments and draw(st.integers(0, 5)) == 0:
        rendered = json.dumps(text)  # arguments as a JSON-encoded string: decoded once
    return GeneratedCall(name, text, rendered)


@st.composite
def call_object(draw, call: GeneratedCall, argument_keys: tuple[str, ...]) -> str:
    """{"name": ..., "arguments": ...} with the keys in either order and optional spacing."""
    name_part = '"name": ' + json.dumps(call.name)
    arguments_part = json.dumps(draw(st.sampled_from(argument_keys))) + ": " + call.rendered_arguments
    parts = [name_part, arguments_part] if draw(st.booleans()) else [arguments_part, name_part]
    space = draw(st.sampled_from(["", " ", "\n"]))
    return "{" + space + ", ".join(parts) + space + "}"


def _interleave(draw, reply: GeneratedReply, blocks: list[str], calls: list[GeneratedCall]) -> None:
    reply.add_content(draw(content_text))
    for block in blocks:
        reply.text += block
        reply.add_content(draw(content_text))
    reply.calls = [(c.name, c.arguments) for c in calls]


def _closing_cut_off(draw, reply: GeneratedReply, closing: str) -> None:
    """The output stops right after the last call (several models do), or inside its closing markers
    `closing`, when the reply ends with them: the calls are the same."""
    if reply.text.endswith(closing) and draw(st.booleans()):
        kept = draw(st.integers(0, len(closing) - 1))
        reply.text = reply.text[: len(reply.text) - len(closing) + kept]


def _no_marker(text: str, markers) -> bool:
    return not any(m in text for m in markers)


# ---------------------------------------------------------------- one strategy per family


@st.composite
def hermes_replies(draw) -> GeneratedReply:
    calls = draw(st.lists(generated_calls(), max_size=3))
    blocks, k = [], 0
    while k < len(calls):
        group = 2 if k + 1 < len(calls) and draw(st.booleans()) else 1  # two objects in one block
        objects = [draw(call_object(c, ("arguments", "parameters"))) for c in calls[k : k + group]]
        pad = draw(st.sampled_from(["\n", "", " "]))
        blocks.append("<tool_call>" + pad + ", ".join(objects) + pad + "</tool_call>")
        k += group
    reply = GeneratedReply()
    _interleave(draw, reply, blocks, calls)
    _closing_cut_off(draw, reply, "</tool_call>")
    return reply


@st.composite
def mistral_replies(draw) -> GeneratedReply:
    style = draw(st.sampled_from(["array", "v11", "v13", "object"]))
    calls = draw(st.lists(generated_calls(allow_string_arguments=style in ("array", "object")), max_size=3))
    if style == "object":
        calls = calls[:1]
    if style in ("array", "object"):
        objects = [draw(call_object(c, ("arguments",))) for c in calls]
        space = draw(st.sampled_from(["", " "]))
        payload = "[" + ", ".join(objects) + "]" if style == "array" else "".join(objects)
        blocks = ["[TOOL_CALLS]" + space + payload] if calls else []
    else:
        glue = "[ARGS]" if style == "v13" else ""
        blocks = ["[TOOL_CALLS]" + c.name + glue + c.rendered_arguments for c in calls]
    reply = GeneratedReply()
    _interleave(draw, reply, blocks, calls)
    return reply


def llama3_replies(argument_keys: tuple[str, ...]):
    @st.composite
    def strategy(draw) -> GeneratedReply:
        calls = draw(st.lists(generated_calls(), max_size=3))
        blocks, k = [], 0
        while k < len(calls):
            group = draw(st.integers(1, len(calls) - k))  # calls joined by ";" in one block
            separator = draw(st.sampled_from([";", "; ", ";\n", " ; "]))
            objects = [draw(call_object(c, argument_keys)) for c in calls[k : k + group]]
            tag = draw(st.sampled_from(["", "<|python_tag|>"]))
            blocks.append(tag + separator.join(objects))
            k += group
        reply = GeneratedReply()
        reply.add_content(draw(content_text.filter(lambda t: "{" not in t)))
        for block in blocks:
            reply.text += block
            # text after a block must not continue it: no "{" (a call) and no leading ";" (a separator)
            reply.add_content(draw(content_text.filter(lambda t: "{" not in t and not t.lstrip().startswith(";"))))
        reply.calls = [(c.name, c.arguments) for c in calls]
        return reply

    return strategy()


@st.composite
def granite_replies(draw) -> GeneratedReply:
    calls = draw(st.lists(generated_calls(), min_size=1, max_size=3))
    marker = draw(st.sampled_from(["<|tool_call|>", "<tool_call>"]))
    objects = [draw(call_object(c, ("arguments",))) for c in calls]
    reply = GeneratedReply()
    _interleave(draw, reply, [marker + "[" + ", ".join(objects) + "]"], calls)
    return reply


@st.composite
def granite_20b_fc_replies(draw) -> GeneratedReply:
    calls = draw(st.lists(generated_calls(), max_size=3))
    blocks = ["<function_call> " + draw(call_object(c, ("arguments",))) for c in calls]
    reply = GeneratedReply()
    _interleave(draw, reply, blocks, calls)
    return reply


@st.composite
def internlm_replies(draw) -> GeneratedReply:
    calls = draw(st.lists(generated_calls(), max_size=2))
    blocks = [
        "<|action_start|><|plugin|>\n" + draw(call_object(c, ("parameters", "arguments"))) + "<|action_end|>"
        for c in calls
    ]
    reply = GeneratedReply()
    _interleave(draw, reply, blocks, calls)
    _closing_cut_off(draw, reply, "<|action_end|>")
    return reply


@st.composite
def jamba_replies(draw) -> GeneratedReply:
    calls = draw(st.lists(generated_calls(), min_size=1, max_size=3))
    objects = [draw(call_object(c, ("arguments",))) for c in calls]
    reply = GeneratedReply()
    reply.add_content(draw(content_text) + " ")  # the leading space Jamba writes is text before the block
    reply.text += "<tool_calls>[" + ", ".join(objects) + "]</tool_calls>"
    reply.add_content(draw(content_text))
    reply.calls = [(c.name, c.arguments) for c in calls]
    _closing_cut_off(draw, reply, "]</tool_calls>")
    return reply


def deepseek_replies(version: str):
    @st.composite
    def strategy(draw) -> GeneratedReply:
        calls = draw(st.lists(generated_calls(allow_string_arguments=False), min_size=1, max_size=3))
        spelling = draw(st.integers(0, 1))  # full-width bars, or ASCII

        def marker(name: str) -> str:
            return deepseek_marker(name)[spelling]

        rendered = []
        for c in calls:
            if version == "v3":
                body = f"function{marker('tool▁sep')}{c.name}\n```json\n{c.rendered_arguments}\n```"
            else:
                body = f"{c.name}{marker('tool▁sep')}{c.rendered_arguments}"
            rendered.append(marker("tool▁call▁begin") + body + marker("tool▁call▁end"))
        between = draw(st.sampled_from(["", "\n"]))
        block = marker("tool▁calls▁begin") + between.join(rendered) + marker("tool▁calls▁end")
        reply = GeneratedReply()
        _interleave(draw, reply, [block], calls)
        _closing_cut_off(draw, reply, marker("tool▁call▁end") + marker("tool▁calls▁end"))
        return reply

    return strategy()


import tests.formats.generated_harmony as generated_harmony  # noqa: E402 (it uses the names above)

REPLIES = {
    "openai": st.deferred(lambda: generated_harmony.harmony_replies()),
    "hermes": hermes_replies(),
    "qwen25": hermes_replies(),
    "mistral": mistral_replies(),
    "llama3_json": llama3_replies(("parameters", "arguments")),
    "llama3": llama3_replies(("arguments", "parameters")),
    "granite": granite_replies(),
    "granite-20b-fc": granite_20b_fc_replies(),
    "internlm": internlm_replies(),
    "jamba": jamba_replies(),
    "deepseekv3": deepseek_replies("v3"),
    "deepseekv31": deepseek_replies("v31"),
}


# Kimi K2's, xLAM-2's and Llama 4 JSON's strategies build on the pieces above, in a module of their own.
from tests.formats.generated_more_calls import MORE_REPLIES  # noqa: E402

REPLIES.update(MORE_REPLIES)

# The XML-style families' strategies build on the pieces above, in a module of their own.
from tests.formats.generated_xml_calls import XML_REPLIES  # noqa: E402

REPLIES.update(XML_REPLIES)
