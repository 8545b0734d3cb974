"""Hypothesis strategy for gpt-oss harmony replies, each with the reasoning, content and calls it holds.

A reply is a run of messages: analysis (reasoning), commentary preambles and a final answer
(content), and 0-3 calls to `functions.NAME` with the recipient after the channel or before it,
`<|constrain|>json`, a bare `json` or nothing, `<|call|>` or a missing one at the end. The first
message has no `<|start|>assistant` (it is in the prompt). Argument values hold the harmony markers
inside their strings. `reply.content` is what the tool parser alone returns (every body that is not
a call, analysis included); `reply.reasoning` / `reply.final_content` are what the gpt_oss reasoning
parser and the tool parser return together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hypothesis import strategies as st

from tests.formats.generated_replies import TOOL_NAMES, TRICKY_PIECES, GeneratedReply

HARMONY_MARKERS = ["<|start|>", "<|end|>", "<|message|>", "<|channel|>", "<|constrain|>", "<|call|>",
                   "<|return|>", "to=functions.", "<|start|>assistant<|channel|>final<|message|>"]
string_text = st.lists(st.sampled_from(TRICKY_PIECES + HARMONY_MARKERS) | st.text(max_size=3), max_size=6).map("".join)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**9), 10**9),
                         st.floats(allow_nan=False, allow_infinity=False), string_text)
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(string_text, inner, max_size=3)), max_leaves=8)
arguments_objects = st.dictionaries(string_text, json_values, max_size=4)

# Message bodies: text with markup-looking pieces, but no harmony marker (those end a body).
BODY_PIECES = ["Hello", " ", "\n", "a < b", "<b>", "{braces}", "[x]", "é中😀", "ok.", ">", "<", "<|", "|>",
               "json", "functions", "<|chan"]  # no two make a marker
# A body is empty or holds more than whitespace, and does not end with what could begin a marker: in
# the output pipeline the tool parser would hold such text back, and it would come out with the text
# that follows, reasoning as content or the other way round (the pipeline's known seam).
body_text = st.lists(st.sampled_from(BODY_PIECES), max_size=5).map("".join).filter(
    lambda text: (text.strip() or not text) and not text.endswith(("<", "<|", "<|chan")))


@dataclass
class HarmonyReply(GeneratedReply):
    reasoning: str = ""
    final_content: str = ""


def _header(draw, channel: str, recipient: str | None) -> str:
    if recipient is None:
        return f"<|channel|>{channel}"
    content_type = draw(st.sampled_from([" <|constrain|>json", " json", "", "<|constrain|>json"]))
    if draw(st.booleans()):
        return f"<|channel|>{channel} to={recipient}{content_type}"
    return f" to={recipient}<|channel|>{channel}{content_type}"


@st.composite
def harmony_replies(draw) -> HarmonyReply:
    kinds = draw(st.lists(st.sampled_from(["analysis", "preamble", "call"]), max_size=5))
    kinds = [k for i, k in enumerate(kinds) if k != "call" or kinds[:i].count("call") < 3]
    if draw(st.booleans()):
        kinds.append("final")
    reply = HarmonyReply()
    for position, kind in enumerate(kinds):
        last = position == len(kinds) - 1
        start = "" if position == 0 else "<|start|>assistant"
        if kind == "call":
            name = draw(st.sampled_from(TOOL_NAMES))
            arguments = json.dumps(draw(arguments_objects), ensure_ascii=draw(st.booleans()),
                                   indent=draw(st.sampled_from([None, None, 2])))
            channel = draw(st.sampled_from(["commentary", "commentary", "analysis"]))
            header = _header(draw, channel, f"functions.{name}")
            end = "" if last and draw(st.integers(0, 3)) == 0 else "<|call|>"
            reply.text += f"{start}{header}<|message|>{arguments}{end}"
            reply.calls.append((name, arguments))
            continue
        body = draw(body_text)
        channel = {"analysis": "analysis", "preamble": "commentary", "final": "final"}[kind]
        end = {"analysis": "<|end|>", "preamble": "<|end|>", "final": "<|return|>"}[kind]
        if last and draw(st.integers(0, 3)) == 0:
            end = ""  # the output stops before the end marker
        reply.text += f"{start}{_header(draw, channel, None)}<|message|>{body}{end}"
        reply.content += body
        if kind == "analysis":
            reply.reasoning += body
        else:
            reply.final_content += body
    return reply
