"""The incremental scanner of XML-style calls (syntax.py), shared by every such family.

The whole result is this same scanner fed the whole text at once, so streaming and whole output cannot
disagree. Each character is read once, apart from what is held back at the end of a delta (a marker
that may be cut off, at most a marker's length, read again with the next delta): the cost grows
linearly with the reply however it is chunked.

What comes out, and when:

- Content is text outside blocks, passed on as it arrives except an end that could begin the block's
  start marker. Blank text between blocks, or between a block and the start or end of the output, is
  not content.
- A call is committed when its name is complete, looks like a function name and is a tool the request
  offered (any name when it offered none): its first delta (index, id, name) goes out then.
- Arguments are a JSON object built from the parameters as they close, each value typed by the tool's
  schema (values.py). A value that is a plain string (its schema says `string`, or it has no schema and
  does not begin like JSON) is sent as it is generated: `{"key": "` as soon as the key is read, the
  JSON-escaped text as it arrives, the closing `"` with the value's end marker. Other values go out
  whole when they close. Only the value's own end marker ends it: a value may hold any other marker.
- The whitespace the format puts around a value is not the value's: for qwen3_coder, one newline
  after `<parameter=KEY>` and one before `</parameter>` (a newline at the end of a delta is held back
  until what follows shows whether it is that one).

Text that does not parse:

- Before its commit, a block (or, in a block that already has calls, a call) that breaks off (an
  unexpected character, a name that is not a function name or was not offered, the end of the
  output) is not a call: its text up to the offending character is content, and reading resumes there.
  (A GLM name has no end marker of its own: the end of the output ends it, and commits the call.)
- Once committed, a call stays a call: if its text breaks off, or the output ends, its arguments are
  closed (a value cut off by the end is kept as far as it got; a cut-off key is dropped), the block
  ends, and reading resumes at the offending character as content.
- A block whose end marker is missing ends after its last call: the output may stop there, or go on
  with content.
"""

from __future__ import annotations

import re

from toolwire.formats.families.xml_calls.syntax import FUNCTION_NAME, XmlCallSyntax
from toolwire.formats.families.xml_calls.values import JSON_START, ToolSchemas, ValueType, json_string
from toolwire.formats.ids import ToolCallIds
from toolwire.formats.offered import OfferedTools

_BLANKS = re.compile(r"[ \t\r\n]*")
_NON_BLANK = re.compile(r"[^ \t\r\n]")
_MAX_NAME = 256  # a function or parameter name longer than this is not one
_PARTIAL = object()  # a literal cut off by the end of the text


def _partial_suffix(text: str, start: int, marker: str) -> int:
    """The length of the longest end of text[start:] that is a proper beginning of `marker`."""
    n = len(text)
    first = text.find(marker[0], max(start, n - len(marker) + 1))
    while first != -1:
        if marker.startswith(text[first:]):
            return n - first
        first = text.find(marker[0], first + 1)
    return 0


def _match(text: str, i: int, choices: tuple[str, ...]):
    """The literal of `choices` at text[i:], _PARTIAL when the text ends inside one, or None."""
    for literal in choices:
        if text.startswith(literal, i):
            return literal
    rest = text[i : i + max(map(len, choices))]
    if any(len(rest) < len(literal) and literal.startswith(rest) for literal in choices):
        return _PARTIAL
    return None


class XmlCallScanner:
    """Reads one reply; writes content and calls to `out` (`content`, `start_call`, `arguments`)."""

    def __init__(self, syntax: XmlCallSyntax, offered: OfferedTools, schemas: ToolSchemas, ids: ToolCallIds,
                 out):
        self.syntax = syntax
        self.offered = offered
        self.schemas = schemas
        self.ids = ids
        self.out = out
        self._name_stop = re.compile("[" + re.escape(syntax.name_stops + "\n") + "]")
        self._key_stop = re.compile("[" + re.escape(syntax.key_stops + "\n") + "]")
        self._call_body_choices = tuple(m for m in (syntax.key_start, syntax.call_end, syntax.block_end) if m)
        self._after_call_choices = tuple(m for m in (syntax.block_end, syntax.call_start) if m)
        self._tail = ""  # received text not read yet: a marker, or a value's end, that may be cut off
        self._state = self._in_content
        # content
        self._at_boundary = True  # blank text here is not content (yet)
        self._blank: list[str] = []
        # a block or call not committed yet: its text, given back as content if it breaks off
        self._held: list[str] = []
        self._name: list[str] = []
        # the committed call
        self.calls = 0
        self._index = -1
        self._tool = ""
        self._parameters = 0
        self._key: list[str] = []
        # the value being read
        self._value_type: ValueType | None = None
        self._value_prefix = ""  # `{"key": ` or `, "key": `
        self._value_parts: list[str] = []
        self._value_began = False
        self._value_typed = False  # its kind is settled (a plain string streams, anything else is held)
        self._streaming = False

    # ------------------------------------------------------------------ driving

    def feed(self, text: str) -> None:
        text, self._tail = self._tail + text, ""
        i, n = 0, len(text)
        while i < n:
            i = self._state(text, i)

    def held_text(self) -> str:
        """The text received and neither passed on nor owned by a call: what an internal error gives back."""
        return "".join(self._blank) + "".join(self._held) + self._tail

    def finish(self) -> None:
        """The output has ended: close what is open and release what was held back."""
        rest, self._tail = self._tail, ""
        state = self._state
        if state == self._in_content:
            self._content(rest)
        elif state == self._in_name and not self.syntax.name_end and self._offered_name() is not None:
            self._commit(self._offered_name())  # the output ends after a name that needs no end marker
            self._end_call()
        elif state in (self._in_block_start, self._in_name):
            self._content("".join(self._held) + rest)  # never committed: it was text
        elif state == self._in_value:
            self._end_value()  # what is held is the value's end marker, cut off (and its newline)
            self._end_call()
        elif state != self._after_call:
            self._end_call()
        self._state = self._in_content

    # ------------------------------------------------------------------ content

    def _in_content(self, text: str, i: int) -> int:
        marker = self.syntax.block_start
        at = text.find(marker, i)
        if at == -1:
            keep = _partial_suffix(text, i, marker)
            self._content(text[i : len(text) - keep])
            self._tail = text[len(text) - keep :]
            return len(text)
        self._content(text[i:at])
        self._blank = []
        self._held = [marker]
        self._state = self._in_block_start
        return at + len(marker)

    def _content(self, text: str) -> None:
        if not text:
            return
        if self._at_boundary:
            if _NON_BLANK.search(text) is None:
                self._blank.append(text)
                return
            text = "".join(self._blank) + text
            self._blank, self._at_boundary = [], False
        self.out.content(text)

    # ------------------------------------------------------------------ a call's head

    def _in_block_start(self, text: str, i: int) -> int:
        j = _BLANKS.match(text, i).end()
        self._held.append(text[i:j])
        if j == len(text):
            return j
        if not self.syntax.call_start:
            self._name = []
            self._state = self._in_name
            return j
        found = _match(text, j, (self.syntax.call_start,))
        if found is None:
            return self._not_a_call(j)
        if found is _PARTIAL:
            self._tail = text[j:]
            return len(text)
        self._held.append(found)
        self._name = []
        self._state = self._in_name
        return j + len(found)

    def _in_name(self, text: str, i: int) -> int:
        stop = self._name_stop.search(text, i)
        at = stop.start() if stop else len(text)
        self._name.append(text[i:at])
        self._held.append(text[i:at])
        if stop is None:
            return len(text) if sum(map(len, self._name)) <= _MAX_NAME else self._not_a_call(len(text))
        name = self._offered_name()
        if name is None:
            return self._not_a_call(at)
        end = self.syntax.name_end
        if end:
            found = _match(text, at, (end,))
            if found is None:
                return self._not_a_call(at)
            if found is _PARTIAL:
                self._tail = text[at:]
                return len(text)
        self._commit(name)
        return at + len(end)

    def _offered_name(self) -> str | None:
        """The name read, if it is a function name the request offered."""
        name = "".join(self._name).strip()
        if not FUNCTION_NAME.fullmatch(name) or len(name) > _MAX_NAME or not self.offered.accepts(name):
            return None
        return name

    def _not_a_call(self, at: int) -> int:
        """A block, or a further call of a block, broke off before its commit: its text is content."""
        self._content("".join(self._held))
        self._held = []
        self._state = self._in_content
        return at

    def _commit(self, name: str) -> None:
        self._held = []
        self._index, self.calls = self.calls, self.calls + 1
        self._tool, self._parameters = name, 0
        self.out.start_call(self._index, self.ids.next(), name)
        self._state = self._in_call

    # ------------------------------------------------------------------ a committed call

    def _in_call(self, text: str, i: int) -> int:
        j = _BLANKS.match(text, i).end()
        if j == len(text):
            return j
        found = _match(text, j, self._call_body_choices)
        if found is None:
            return self._call_broke_off(j)
        if found is _PARTIAL:
            self._tail = text[j:]
            return len(text)
        syntax = self.syntax
        if found == syntax.key_start:
            self._key = []
            self._state = self._in_key
        elif found == syntax.call_end:
            self._end_call()
            self._state = self._after_call
        else:  # the block's end (where the call has no end marker of its own, or left it out)
            self._end_call()
            self._end_block()
        return j + len(found)

    def _in_key(self, text: str, i: int) -> int:
        stop = self._key_stop.search(text, i)
        at = stop.start() if stop else len(text)
        self._key.append(text[i:at])
        if stop is None:
            return len(text) if sum(map(len, self._key)) <= _MAX_NAME else self._call_broke_off(len(text))
        key = "".join(self._key).strip()
        if not key or text[at] == "\n":
            return self._call_broke_off(at)
        found = _match(text, at, (self.syntax.key_end,))
        if found is None:
            return self._call_broke_off(at)
        if found is _PARTIAL:
            self._tail = text[at:]
            return len(text)
        if self.syntax.value_start:
            self._state = self._before_value
        else:
            self._begin_value()
        return at + len(found)

    def _before_value(self, text: str, i: int) -> int:
        j = _BLANKS.match(text, i).end()
        if j == len(text):
            return j
        found = _match(text, j, (self.syntax.value_start,))
        if found is None:
            return self._call_broke_off(j)
        if found is _PARTIAL:
            self._tail = text[j:]
            return len(text)
        self._begin_value()
        return j + len(found)

    def _call_broke_off(self, at: int) -> int:
        self._end_call()
        self._end_block()
        return at

    def _end_call(self) -> None:
        self.out.arguments(self._index, "}" if self._parameters else "{}")

    def _after_call(self, text: str, i: int) -> int:
        j = _BLANKS.match(text, i).end()
        if j == len(text):
            return j
        found = _match(text, j, self._after_call_choices)
        if found is None:  # the block's end marker is missing: what follows is content
            self._end_block()
            return j
        if found is _PARTIAL:
            self._tail = text[j:]
            return len(text)
        if found == self.syntax.block_end:
            self._end_block()
        else:  # another call in the same block
            self._held = [found]
            self._name = []
            self._state = self._in_name
        return j + len(found)

    def _end_block(self) -> None:
        self._state = self._in_content
        self._at_boundary, self._blank = True, []

    # ------------------------------------------------------------------ values

    def _begin_value(self) -> None:
        key = "".join(self._key).strip()
        self._value_type = self.schemas.value_type(self._tool, key)
        self._value_prefix = ("{" if self._parameters == 0 else ", ") + json_string(key) + ": "
        self._value_parts = []
        self._value_began = not self.syntax.value_between_newlines
        self._value_typed = self._value_type.types != ()
        self._streaming = False
        if self._value_type.is_plain_string:
            self._start_streaming()
        self._state = self._in_value

    def _in_value(self, text: str, i: int) -> int:
        if not self._value_began:  # the newline after the key belongs to the layout
            self._value_began = True
            if text[i] == "\n":
                i += 1
        end = self.syntax.value_end
        at = text.find(end, i)
        if at == -1:
            stop = len(text) - _partial_suffix(text, i, end)
            if self.syntax.value_between_newlines and stop > i and text[stop - 1] == "\n":
                stop -= 1  # perhaps the newline before the end marker
            self._value_text(text[i:stop])
            self._tail = text[stop:]
            return len(text)
        stop = at - 1 if self.syntax.value_between_newlines and at > i and text[at - 1] == "\n" else at
        self._value_text(text[i:stop])
        self._end_value()
        self._state = self._in_call
        return at + len(end)

    def _value_text(self, piece: str) -> None:
        if not piece:
            return
        if self._streaming:
            self.out.arguments(self._index, json_string(piece)[1:-1])
            return
        self._value_parts.append(piece)
        if not self._value_typed:
            first = _NON_BLANK.search(piece)
            if first is not None:
                self._value_typed = True
                if piece[first.start()] not in JSON_START:  # cannot be JSON: it is a string
                    self._start_streaming()

    def _start_streaming(self) -> None:
        held = "".join(self._value_parts)
        self._value_parts = []
        self._streaming = True
        self.out.arguments(self._index, self._value_prefix + json_string(held)[:-1])

    def _end_value(self) -> None:
        if self._streaming:
            self.out.arguments(self._index, '"')
        else:
            self.out.arguments(self._index, self._value_prefix + self._value_type.json_text("".join(self._value_parts)))
        self._parameters += 1
        self._value_parts = []
