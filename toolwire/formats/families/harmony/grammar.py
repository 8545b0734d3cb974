"""The grammar of harmony tool calls: what `tool_choice` required / named / auto hold gpt-oss to.

A call is `<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{ARGUMENTS}<|call|>`.
The trigger is `to=functions.`, so that in free text (tool_choice auto) a call is held from its
recipient on wherever the model puts it: after the channel, or before it as the chat template
writes earlier calls (`<|start|>assistant to=functions.NAME<|channel|>commentary json<|message|>`);
the header's rest may take either form. Where calls are required, the reply writes the channel
first (`lead`). More calls (parallel) follow as new messages, `<|start|>assistant` and the same.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolwire.formats.family import CallableTool, CallsGrammar
from toolwire.formats.families.harmony.messages import CALL, CHANNEL, CONSTRAIN, MESSAGE, START
from toolwire.formats.grammar import MAX_ARGUMENTS_WHITESPACE, const, either, json_schema, seq, star

TRIGGER = "to=functions."
LEAD = f"{CHANNEL}commentary "
# What may follow NAME up to the body; the first is the form the grammar writes after LEAD.
HEADER_RESTS = (
    f" {CONSTRAIN}json{MESSAGE}",
    f" json{MESSAGE}",
    f"{CHANNEL}commentary json{MESSAGE}",
    f"{CHANNEL}commentary {CONSTRAIN}json{MESSAGE}",
    MESSAGE,
)
NEXT_CALL = f"{START}assistant{LEAD}{TRIGGER}"


def harmony_calls_grammar(tools: Sequence[CallableTool], *, parallel: bool) -> CallsGrammar:
    rest = either(*[const(text) for text in HEADER_RESTS])
    one = either(*[seq(const(name), rest, json_schema(schema, MAX_ARGUMENTS_WHITESPACE), const(CALL))
                   for name, schema in tools])
    more = star(seq(const(NEXT_CALL), one)) if parallel else None
    return CallsGrammar(trigger=TRIGGER, body=seq(one, more), lead=LEAD)
