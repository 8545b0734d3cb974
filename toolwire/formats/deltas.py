"""Where a parser's output goes: content text, the start of a call, argument fragments.

`DeltaCollector` turns what one streaming step produced into one `DeltaMessage` (the first delta of a
call carries index, id, type and the whole name; later ones argument fragments). `ResultCollector`
gathers a whole reply into `ExtractedToolCallInformation`. A parser writes to either through the same
three methods, which is how whole and streaming output come from one code path.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from toolwire.protocol.tool_calls import (
    DeltaFunctionCall,
    DeltaMessage,
    DeltaToolCall,
    ExtractedToolCallInformation,
    FunctionCall,
    ToolCall,
)


class DeltaCollector:
    def __init__(self) -> None:
        self._content: list[str] = []
        # [index, id, name, argument fragments], in the order they were produced
        self._calls: list[list] = []

    def content(self, text: str) -> None:
        if text:
            self._content.append(text)

    def start_call(self, index: int, call_id: str, name: str) -> None:
        self._calls.append([index, call_id, name, []])

    def arguments(self, index: int, fragment: str) -> None:
        if not fragment:
            return
        if not self._calls or self._calls[-1][0] != index:
            self._calls.append([index, None, None, []])
        self._calls[-1][3].append(fragment)

    def take(self) -> DeltaMessage | None:
        """The delta for everything collected since the last take, or None when there was nothing."""
        if not self._calls:
            if not self._content:
                return None
            delta = make_delta("".join(self._content))
            self._content = []
            return delta
        delta = make_delta(
            "".join(self._content) or None,
            [make_call_delta(i, call_id, name, "".join(parts)) for i, call_id, name, parts in self._calls],
        )
        self._content, self._calls = [], []
        return delta


class ResultCollector:
    def __init__(self) -> None:
        self._content: list[str] = []
        self._calls: dict[int, tuple[str, str, list[str]]] = {}

    def content(self, text: str) -> None:
        if text:
            self._content.append(text)

    def start_call(self, index: int, call_id: str, name: str) -> None:
        self._calls[index] = (call_id, name, [])

    def arguments(self, index: int, fragment: str) -> None:
        self._calls[index][2].append(fragment)

    def result(self) -> ExtractedToolCallInformation:
        calls = [
            ToolCall(id=call_id, function=FunctionCall(name=name, arguments="".join(parts)))
            for call_id, name, parts in (self._calls[i] for i in sorted(self._calls))
        ]
        return ExtractedToolCallInformation(
            tools_called=bool(calls), tool_calls=calls, content="".join(self._content) or None
        )


# A delta is made every few characters, so it is built without validation (its values are already of
# the right types) and without model_construct's per-field default lookup, which costs several times
# more than the parsing itself. tests/formats/test_deltas.py checks these equal validated models.

_new = object.__new__
_set_dict = object.__setattr__
# BaseModel keeps these in slots; setting them through the slot descriptors is the cheapest way.
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


def _built(model_class, values: dict, fields_set: set):
    model = _new(model_class)
    _set_dict(model, "__dict__", values)
    _set_fields_set(model, fields_set)
    _set_extra(model, {})
    _set_private(model, None)
    return model


def make_delta(content: str | None = None, tool_calls: list[DeltaToolCall] | None = None) -> DeltaMessage:
    values = {"role": None, "content": content, "reasoning_content": None, "tool_calls": tool_calls or []}
    fields_set = {"content", "tool_calls"} if content is not None else {"tool_calls"}
    return _built(DeltaMessage, values, fields_set)


def make_call_delta(index: int, call_id: str | None, name: str | None, arguments: str) -> DeltaToolCall:
    """The first delta of a call when `call_id` is given (it then carries the name), else a fragment."""
    if call_id is not None:
        function = _built(DeltaFunctionCall, {"name": name, "arguments": arguments}, {"name", "arguments"})
        values = {"index": index, "id": call_id, "type": "function", "function": function}
        return _built(DeltaToolCall, values, {"index", "id", "type", "function"})
    function = _built(DeltaFunctionCall, {"name": None, "arguments": arguments}, {"arguments"})
    values = {"index": index, "id": None, "type": None, "function": function}
    return _built(DeltaToolCall, values, {"index", "function"})


def read_whole(parser_name: str, model_output: str, new_reader) -> ExtractedToolCallInformation:
    """The result of a whole output, read by the streaming reader that `new_reader(collector)` makes
    (anything with feed and finish that reports to the collector); should reading fail, the output
    comes back as content."""
    try:
        result = ResultCollector()
        reader = new_reader(result)
        reader.feed(model_output)
        reader.finish()
        return result.result()
    except Exception:
        logging.getLogger(__name__).exception("%s parser failed; returning the output as content", parser_name)
        return ExtractedToolCallInformation(tools_called=False, content=model_output or None)
