"""BFCL test helpers: a right reply built from an entry's own possible answer, and a stub responder
that plays a perfect (or a silent) model for the entries it knows."""

from __future__ import annotations

import json
from typing import Any

from tests.evals.openai_stub import StubReply
from toolwire.evals.bfcl.checker import Call
from toolwire.evals.bfcl.data import BfclEntry
from toolwire.evals.bfcl.schema import ToolNames


def realise(allowed_value: Any) -> Any:
    """One concrete value from an allowed value: dict keys take their first allowed value that is
    not the "may be left out" marker (and are left out when that is all they allow)."""
    if isinstance(allowed_value, dict):
        out = {}
        for key, alternatives in allowed_value.items():
            if not isinstance(alternatives, list):
                out[key] = realise(alternatives)
                continue
            present = [a for a in alternatives if a != ""]
            if present:
                out[key] = realise(present[0])
        return out
    if isinstance(allowed_value, list):
        return [realise(v) for v in allowed_value]
    return allowed_value


def answer_calls(entry: BfclEntry) -> list[Call]:
    """The calls the entry's answer describes, each parameter at its first allowed value (left out
    where the answer allows that and the function does not list the parameter: parallel_multiple_12's
    answer lists `permeability` for a function without it)."""
    docs = {f["name"]: f for f in entry.functions}
    calls = []
    for item in entry.ground_truth or ():
        (name, params), = item.items()
        properties = (docs[name].get("parameters") or {}).get("properties") or {}
        arguments = {}
        for param, allowed in params.items():
            present = [a for a in allowed if a != ""]
            if present and (param in properties or "" not in allowed):
                arguments[param] = realise(present[0])
        calls.append(Call(name, arguments))
    return calls


def satisfiable(entry: BfclEntry) -> bool:
    """Whether any reply can pass the entry's answer. A few BFCL answers cannot: a required parameter
    whose only allowed value is the omission marker, or none at all (live_simple_106-63-0), or a
    parameter that must be given but that the function does not have (live_multiple_964-207-0)."""
    docs = {f["name"]: f for f in entry.functions}
    for item in entry.ground_truth or ():
        (name, params), = item.items()
        schema = docs[name].get("parameters") or {}
        for param, allowed in params.items():
            present = [a for a in allowed if a != ""]
            if not present and (not allowed or param in (schema.get("required") or ())):
                return False
            if "" not in allowed and param not in (schema.get("properties") or {}):
                return False
    return True


def perfect_responder(entries: list[BfclEntry]):
    """Answers each known entry (found by its messages) with the right calls, under the names the
    request sent (in live_relevance: a call of the first tool); a question it does not know, or one
    where no call is right, gets text."""
    by_question = {json.dumps(e.messages): e for e in entries}

    def respond(body: dict[str, Any]) -> StubReply:
        entry = by_question.get(json.dumps(body["messages"]))
        if entry is None or not entry.expects_call:
            return StubReply(content="I cannot help with that using these tools.")
        names = ToolNames([f["name"] for f in entry.functions])
        if entry.ground_truth is None:
            return StubReply(tool_calls=[(names.sent[entry.functions[0]["name"]], "{}")])
        return StubReply(tool_calls=[(names.sent[c.name], json.dumps(c.arguments)) for c in answer_calls(entry)])

    return respond
