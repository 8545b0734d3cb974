"""Hypothesis strategies for the replies of Kimi K2, xLAM-2 and Llama 4 (JSON), each with the content
and calls it holds (see generated_replies.py, whose pieces these reuse and whose REPLIES lists them:
take them from there, as importing this module first would be circular)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

from tests.formats.generated_replies import (
    GeneratedReply, _closing_cut_off, _interleave, call_object, content_text, generated_calls,
)

KIMI_CALL_END = "<|tool_call_end|>"
KIMI_SECTION_END = "<|tool_calls_section_end|>"


@dataclass
class KimiReply(GeneratedReply):
    ids: list[str] = field(default_factory=list)  # the ids the model wrote, in order


@st.composite
def kimi_k2_replies(draw) -> KimiReply:
    """A section of 0-3 calls, each `functions.NAME:IDX` with IDX counting on from the calls the
    conversation already had; content before and after; the output may stop after the last call."""
    calls = draw(st.lists(generated_calls(allow_string_arguments=False), max_size=3))
    first_index = draw(st.sampled_from([0, 0, 1, 7]))
    between = draw(st.sampled_from(["", "\n"]))
    ids = [f"functions.{call.name}:{first_index + k}" for k, call in enumerate(calls)]
    rendered = [f"<|tool_call_begin|>{call_id}<|tool_call_argument_begin|>{call.rendered_arguments}{KIMI_CALL_END}"
                for call_id, call in zip(ids, calls)]
    blocks = ["<|tool_calls_section_begin|>" + between + between.join(rendered) + between + KIMI_SECTION_END] \
        if calls else []
    reply = KimiReply(ids=ids)
    _interleave(draw, reply, blocks, calls)
    _closing_cut_off(draw, reply, between + KIMI_CALL_END + between + KIMI_SECTION_END)
    return reply


XLAM_WRAPPERS = [("", ""), ("```json\n", "\n```"), ("```\n", "\n```"), ("[TOOL_CALLS]", ""),
                 ("<tool_call>", "</tool_call>")]


@st.composite
def xlam_replies(draw) -> GeneratedReply:
    """One list of 1-3 calls (or a single object), bare or wrapped, with content around it, or none."""
    calls = draw(st.lists(generated_calls(), max_size=3))
    objects = [draw(call_object(call, ("arguments", "parameters"))) for call in calls]
    space = draw(st.sampled_from(["", " ", "\n"]))
    if len(objects) == 1 and draw(st.booleans()):
        payload = objects[0]
    else:
        payload = "[" + space + ("," + space).join(objects) + space + "]"
    opening, closing = draw(st.sampled_from(XLAM_WRAPPERS))
    reply = GeneratedReply()
    _interleave(draw, reply, [opening + payload + closing] if calls else [], calls)
    if closing:
        _closing_cut_off(draw, reply, closing)
    return reply


@st.composite
def llama4_json_replies(draw) -> GeneratedReply:
    """Llama 4's JSON calls, `{"name": ..., "parameters": ...}` joined by ";" or nothing, bare or after
    `<|python_start|><|python_end|>` (Meta's template shows calls so), or inside the two markers."""
    calls = draw(st.lists(generated_calls(), min_size=1, max_size=3))
    objects = [draw(call_object(call, ("parameters", "arguments"))) for call in calls]
    joined = draw(st.sampled_from(["", ";", "; ", "\n"])).join(objects)
    opening, closing = draw(st.sampled_from([("", ""), ("<|python_start|><|python_end|>", ""),
                                             ("<|python_start|>", "<|python_end|>")]))
    reply = GeneratedReply()
    # no "{" in content: it could open a call; no leading ";": it would continue the calls
    plain = content_text.filter(lambda t: "{" not in t and not t.lstrip().startswith(";"))
    reply.add_content(draw(plain))
    reply.text += opening + joined + closing
    reply.add_content(draw(plain))
    reply.calls = [(c.name, c.arguments) for c in calls]
    return reply


MORE_REPLIES = {"kimi_k2": kimi_k2_replies(), "xlam": xlam_replies(), "llama4_json": llama4_json_replies()}
