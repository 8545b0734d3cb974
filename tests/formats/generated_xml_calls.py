"""Hypothesis strategies for replies in the XML-style formats (qwen3_coder, glm45, glm47, minimax_m2).

Each reply is content pieces and 0-3 calls written as the family's models write them, with the
variations the format allows: blanks between the parts, values written with or without the newlines
around them (qwen3_coder), several calls in one block (minimax_m2, and qwen3_coder leniently), values
holding the format's other markers, and the end markers cut off at the end of the output.

The properties' requests give every tool `{"type": "object"}` as its schema: no parameter is
described, so a value is the JSON it spells when it spells one, else its text (`expected_value_json`,
written here from the rule, not from the parser).
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

# generated_replies lists these strategies in its REPLIES, and they draw on its pieces: they import it
# when they first draw, so that either module may be imported first.

# Markers each format may hold inside a value: all of its own but the value's end marker.
MARKERS_IN_VALUES = {
    "qwen3_coder": ["</function>", "</tool_call>", "<tool_call>", "<function=f>", "<parameter=k>", "</parameter"],
    "glm45": ["</tool_call>", "<tool_call>", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value"],
    "glm47": ["</tool_call>", "<tool_call>", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value"],
    "minimax_m2": ["</invoke>", "</minimax:tool_call>", '<invoke name="f">', '<parameter name="k">', "</parameter"],
}
KEY_CHARACTERS = "abcxyz_09éß中"
BLANKS = ["", "\n", " ", "\n\n"]


def expected_value_json(text: str) -> str:
    """An undescribed parameter's value: the JSON it spells (finite numbers only), else the string."""
    def refuse(token):
        raise ValueError(token)

    try:
        value = json.loads(text, parse_constant=refuse)
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (ValueError, RecursionError):
        return json.dumps(text, ensure_ascii=False)


@st.composite
def value_texts(draw, family: str) -> str:
    """A value as the model writes it: a string with markup in it, or JSON text."""
    from tests.formats import generated_replies as base

    pieces = st.sampled_from(base.TRICKY_PIECES + MARKERS_IN_VALUES[family])
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return "".join(draw(st.lists(pieces, max_size=6)))
    if kind == 1:
        return draw(st.text(max_size=10))
    value = draw(base.json_values)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))


@st.composite
def arguments(draw, family: str) -> list[tuple[str, str]]:
    keys = draw(st.lists(st.text(alphabet=KEY_CHARACTERS, min_size=1, max_size=6), max_size=4, unique=True))
    return [(key, draw(value_texts(family))) for key in keys]


def expected_arguments(pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return "{}"
    return "{" + ", ".join(json.dumps(k, ensure_ascii=False) + ": " + expected_value_json(v) for k, v in pairs) + "}"


@st.composite
def _qwen3_coder_call(draw, name: str, pairs) -> str:
    parts = [f"<function={name}>", draw(st.sampled_from(BLANKS))]
    for key, value in pairs:
        plain = not value.startswith("\n") and not value.endswith("\n") and draw(st.booleans())
        parts.append(f"<parameter={key}>" + (value if plain else f"\n{value}\n") + "</parameter>")
        parts.append(draw(st.sampled_from(BLANKS)))
    parts.append("</function>")
    return "".join(parts)


@st.composite
def _glm_call(draw, name: str, pairs, newlines: bool) -> str:
    blank = st.sampled_from(["\n"] if newlines else ["", "", "\n"])
    parts = [name, draw(blank)]
    for key, value in pairs:
        parts.append(f"<arg_key>{key}</arg_key>{draw(blank)}<arg_value>{value}</arg_value>{draw(blank)}")
    return "".join(parts)


@st.composite
def _minimax_call(draw, name: str, pairs) -> str:
    parts = [f'<invoke name="{name}">', draw(st.sampled_from(BLANKS))]
    for key, value in pairs:
        parts.append(f'<parameter name="{key}">{value}</parameter>{draw(st.sampled_from(BLANKS))}')
    parts.append("</invoke>")
    return "".join(parts)


def xml_replies(family: str):
    @st.composite
    def strategy(draw):
        from tests.formats import generated_replies as base

        calls = [(draw(st.sampled_from(base.TOOL_NAMES)), draw(arguments(family)))
                 for _ in range(draw(st.integers(0, 3)))]
        blocks, k = [], 0
        while k < len(calls):
            if family == "minimax_m2":
                group = draw(st.integers(1, len(calls) - k))
            elif family == "qwen3_coder":
                group = 2 if k + 1 < len(calls) and draw(st.integers(0, 3)) == 0 else 1
            else:
                group = 1
            written = []
            for name, pairs in calls[k : k + group]:
                if family == "qwen3_coder":
                    written.append(draw(_qwen3_coder_call(name, pairs)))
                elif family == "minimax_m2":
                    written.append(draw(_minimax_call(name, pairs)))
                else:
                    written.append(draw(_glm_call(name, pairs, newlines=family == "glm45")))
            between = st.sampled_from(BLANKS)
            inner = "".join(call + draw(between) for call in written)
            if family == "qwen3_coder":
                blocks.append("<tool_call>" + draw(between) + inner + "</tool_call>")
            elif family == "minimax_m2":
                blocks.append("<minimax:tool_call>" + draw(between) + inner + "</minimax:tool_call>")
            else:
                blocks.append("<tool_call>" + inner + "</tool_call>")
            k += group
        reply = base.GeneratedReply()
        reply.add_content(draw(base.content_text))
        for block in blocks:
            reply.text += block
            reply.add_content(draw(base.content_text))
        reply.calls = [(name, expected_arguments(pairs)) for name, pairs in calls]
        closing = {"qwen3_coder": "</function>\n</tool_call>", "minimax_m2": "</invoke>\n</minimax:tool_call>"}
        base._closing_cut_off(draw, reply, closing.get(family, "</tool_call>"))
        return reply

    return strategy()


XML_REPLIES = {family: xml_replies(family) for family in MARKERS_IN_VALUES}
