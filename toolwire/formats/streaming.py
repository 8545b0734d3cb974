"""The incremental parser that every declared format runs on.

`FormatStream` interprets a `ToolCallFormat` (see spec.py) over text fed delta by delta. The whole-text
result is this same machine fed the whole text at once and finished, so streaming and whole output
cannot disagree. Each character is scanned once, apart from a few that are read again: the end of a
delta that could begin a marker, and the whitespace and would-be closing marker after a block's last
call when the closing marker turns out to be missing. The cost grows linearly with the reply, and
the text kept in memory is only what is still held back.

What comes out, and when:

- Content is text outside blocks of calls. It is passed on as it arrives, except an end that could
  be the beginning of a start marker (`<tool_` or a DeepSeek marker's first characters), held back
  until it either completes the marker or cannot. Whitespace-only text between blocks, or between a
  block and the start or end of the output, is not content.
- A call is *committed* when its name is complete and is a tool the request offered (any name when
  it offered none): its first delta (index, id, type, name) goes out then. Arguments follow as the
  JSON scanner confirms them: argument text is emitted up to the scanner's last safe point, so what
  was emitted can always be completed into valid JSON. Arguments that come before the name are held
  until the name arrives. Arguments written as a JSON-encoded string are decoded once, and emitted
  when complete. Missing arguments, or arguments that are not an object (null, a number, a string
  that does not hold an object), are `{}`.

The rule for text that does not parse (identical in both modes, because it is one code path):

- Before its commit, a block that breaks off (invalid JSON, an unexpected character, a name that was
  not offered, an object without a name, or the end of the output) is not a call: its text, from the
  block's start marker up to the offending character, is content, and reading resumes at that
  character as content.
- Once committed, a call stays a call. If its text breaks off (or the output ends) before it is
  complete, its arguments are closed at their last safe point (`{"a": 1, "b": "par` becomes
  `{"a": 1, "b": "par"}`); the call owns its text up to the offending character, and reading resumes
  at that character as content. Calls committed earlier in the same block are unaffected.
- A block whose closing marker is missing ends after its last complete call: the output may stop
  right after a call's last `}` (several models do), or in the middle of the closing marker, which
  is then dropped like a whole one.
"""

from __future__ import annotations

import re

from toolwire.formats.ids import ToolCallIds
from toolwire.formats.json_scanner import (
    JsonScanner,
    apply_fixes,
    decode_json_string,
    object_text_in_json_string,
)
from toolwire.formats.markers import LiteralMatcher, MarkerFinder
from toolwire.formats.offered import OfferedTools
from toolwire.formats.spec import Payload, ToolCallFormat
from toolwire.formats.text_log import TextLog

_WHITESPACE_RUN = re.compile(r"[ \t\n\r]*")
_NAME_RUN = re.compile(r"[\w.\-]*")  # a bare function name (NAME_THEN_JSON payloads)
_DIGIT_RUN = re.compile(r"[0-9]*")  # a call's index after its name (NamedCall.index_separator)
_NON_BLANK = re.compile(r"[^ \t\n\r]")

# what the value being read inside a call object is
_KEY, _NAME, _ARGUMENTS, _IGNORED = range(4)
# steps of a NAME_THEN_JSON call
_LITERAL_STEP, _NAME_STEP, _ARGUMENTS_STEP = range(3)


class _Call:
    """The call being read. `index` is set when it is committed."""

    __slots__ = ("name", "index", "arguments", "emitted", "fix_index", "arguments_done")

    def __init__(self) -> None:
        self.name: str | None = None
        self.index: int | None = None
        self.arguments: JsonScanner | None = None
        self.emitted = 0  # absolute position up to which argument text has been emitted
        self.fix_index = 0
        self.arguments_done = False


class FormatStream:
    """Reads one reply in a declared format; writes content and calls to `out` (see deltas.py)."""

    def __init__(self, fmt: ToolCallFormat, offered: OfferedTools, out):
        self.fmt = fmt
        self.offered = offered
        self.out = out
        self.ids = ToolCallIds(fmt.id_style)
        self.log = TextLog()
        self.triggers = MarkerFinder(fmt.start + tuple(opening for opening, _ in fmt.wrappers)
                                     + tuple(fmt.block_start_characters))
        self.wrapper_closes = {opening: closing for opening, closing in fmt.wrappers if closing}
        self.closers = fmt.end  # what closes the block being read: the end marker, or its wrapper's close
        self.named_steps = self._named_call_steps(fmt)
        self.calls_made = 0
        # Text before `accounted` is settled: emitted as content, consumed as markup, or owned by a
        # committed call. What lies between it and the reading position is held back.
        self.accounted = 0
        self.rewind_to: int | None = None
        self.state = self._in_content
        # content reading
        self.content_from = 0  # where the next search for a start marker begins
        self.at_block_boundary = True  # after the output's start or a block: blank text is not content
        self.blank_upto = 0  # [accounted, blank_upto) is known to be blank
        # block reading
        self.call: _Call | None = None
        self.value: JsonScanner | None = None
        self.value_role = _KEY
        self.key = ""
        self.literal: LiteralMatcher | None = None
        self.literal_optional = False
        self.on_literal = None  # what to do with a matched literal
        self.name_start = 0
        self.step = 0
        self.after_call = self._after_object_call  # where reading goes after a call object

    # ------------------------------------------------------------------ driving

    def feed(self, text: str) -> None:
        base = self.log.end
        self.log.append(text)
        self._run(text, base)
        self._emit_arguments()
        self.log.forget_before(self.accounted)

    def finish(self) -> None:
        """The output has ended: close what is open and release what was held back."""
        while self.state != self._in_content:
            if self._block_may_end_here():
                if self.state == self._literal:
                    self.accounted = self.log.end  # a closing marker cut off by the end is markup too
                self._close_block()
            else:
                self._break(self.log.end)
            self._resume()
        self._content_upto(self.log.end, at_end=True)

    def _resume(self) -> None:
        at = self.rewind_to
        if at is not None:
            self._run(self.log.slice(at, self.log.end), at, rewound=True)

    def _run(self, text: str, base: int, rewound: bool = False) -> None:
        if rewound:
            self.rewind_to = None
        i, n = 0, len(text)
        while True:
            while i < n and self.rewind_to is None:
                i = self.state(text, i, base)
            at = self.rewind_to
            if at is None:
                return
            self.rewind_to = None
            if base <= at:
                i = at - base
            else:
                text, base, i = self.log.slice(at, self.log.end), at, 0
                n = len(text)

    def _block_may_end_here(self) -> bool:
        """True between calls, where a block whose closing marker is missing ends."""
        if self.state == self._literal:
            return self.on_literal in (self._block_ended, self._next_named_call)
        return self.state in (
            self._after_object_call,
            self._after_array_call,
            self._after_block_body,
            self._after_named_call,
        )

    # ------------------------------------------------------------------ content

    def _in_content(self, text: str, i: int, base: int) -> int:
        end = base + len(text)
        searched = self.log.slice(self.content_from, end)
        found = self.triggers.find(searched)
        if found is None:
            settled = end - self.triggers.partial_at_end(searched)
            self._content_upto(settled)
            self.content_from = settled
            return len(text)
        offset, marker = found
        at = self.content_from + offset
        self._content_upto(at)
        self.call = None
        self.state = self._block_payload_start
        closing = self.wrapper_closes.get(marker)
        self.closers = self.fmt.end + (closing,) if closing and closing not in self.fmt.end else self.fmt.end
        if marker in self.fmt.block_start_characters:  # a bare "{" or "[" is the payload itself
            if at < base:  # held back in an earlier delta (it might have begun a longer marker)
                self.rewind_to = at
                return i
            return at - base
        return at + len(marker) - base

    def _content_upto(self, position: int, at_end: bool = False) -> None:
        """Settle text up to `position` as content, except blank text at a block boundary."""
        if position <= self.accounted:
            return
        if self.at_block_boundary:
            if not _NON_BLANK.search(self.log.slice(self.blank_upto, position)):
                self.blank_upto = position
                if at_end:
                    self.accounted = position
                return  # blank so far: dropped if a block or the end follows, content otherwise
            self.at_block_boundary = False
        self.out.content(self.log.slice(self.accounted, position))
        self.accounted = position

    def _enter_content(self, at_block_boundary: bool) -> None:
        self.state = self._in_content
        self.call = None
        self.content_from = self.blank_upto = self.accounted
        self.at_block_boundary = at_block_boundary

    def _break(self, at: int) -> int:
        """What is being read cannot continue with the character at `at` (or the output ended there).

        Reading resumes at `at`, as content; the value returned is only there so that a state can
        `return self._break(...)` (a pending rewind overrides the index a state returns).
        """
        call = self.call
        if call is not None and call.index is not None:
            self._close_broken_call(call)
        else:
            self.out.content(self.log.slice(self.accounted, at))
        self.accounted = at
        self._enter_content(at_block_boundary=False)
        self.rewind_to = at
        return at

    def _close_block(self) -> None:
        """The block ends after its last complete call (its closing marker is missing)."""
        self._enter_content(at_block_boundary=True)
        self.rewind_to = self.accounted

    # ------------------------------------------------------------------ block structure

    def _block_payload_start(self, text: str, i: int, base: int) -> int:
        i = _WHITESPACE_RUN.match(text, i).end()
        if i == len(text):
            return i
        ch, payloads = text[i], self.fmt.payloads
        if ch == "[" and Payload.JSON_ARRAY in payloads:
            self.state = self._object_open
            self.after_call = self._after_array_call
            return i + 1
        if ch == "{" and Payload.JSON_OBJECTS in payloads:
            self.state = self._object_open
            self.after_call = self._after_object_call
            return i
        named = self.fmt.named_call
        if Payload.NAME_THEN_JSON in payloads and (named.call_start or _NAME_RUN.match(text, i).end() > i):
            self._start_named_call()
            return i
        return self._break(base + i)

    def _after_object_call(self, text: str, i: int, base: int) -> int:
        i = _WHITESPACE_RUN.match(text, i).end()
        if i == len(text):
            return i
        separator = self.fmt.separator
        if separator and text[i] == separator:
            self.state = self._object_open
            return i + 1
        if separator and text[i] == "{":  # several objects, separated by whitespace only
            self.state = self._object_open
            return i
        self.state = self._after_block_body
        return i

    def _after_array_call(self, text: str, i: int, base: int) -> int:
        i = _WHITESPACE_RUN.match(text, i).end()
        if i == len(text):
            return i
        if text[i] == ",":
            self.state = self._object_open
            return i + 1
        if text[i] == "]":
            self.accounted = base + i + 1
            self.state = self._after_block_body
            return i + 1
        return self._break(base + i)

    def _after_block_body(self, text: str, i: int, base: int) -> int:
        if not self.closers:
            self._close_block()
            return i
        i = _WHITESPACE_RUN.match(text, i).end()
        if i < len(text):
            self._expect_literal(self.closers, base + i, self._block_ended)
        return i

    def _block_ended(self, marker: str, at: int) -> None:
        self.accounted = at
        self._enter_content(at_block_boundary=True)

    def _expect_literal(self, spellings, at: int, on_match, optional: bool = False) -> None:
        self.literal = LiteralMatcher(spellings, at)
        self.literal_optional = optional
        self.on_literal = on_match
        self.state = self._literal

    def _literal(self, text: str, i: int, base: int) -> int:
        literal = self.literal
        i = literal.feed(text, i)
        if literal.matched is not None:
            self.on_literal(literal.matched, base + i)
        elif literal.failed:
            if self._block_may_end_here():
                self._close_block()  # no closing marker: the block ended with its last call
            elif self.literal_optional:
                self.step += 1
                self.state = self._named_step
                self.rewind_to = literal.start
            else:
                return self._break(base + i)
        return i

    # ------------------------------------------------------------------ JSON call objects

    def _object_open(self, text: str, i: int, base: int) -> int:
        i = _WHITESPACE_RUN.match(text, i).end()
        if i == len(text):
            return i
        if text[i] != "{":
            return self._break(base + i)
        self.call = _Call()
        self.state = self._object_first_key
        return i + 1

    def _object_first_key(self, text: str, i: int, base: int) -> int:
        i = _WHITESPACE_RUN.match(text, i).end()
        if i == len(text):
            return i
        if text[i] == "}":
            return self._object_closed(base + i + 1) - base
        return self._object_key_start(text, i, base)

    def _object_key_start(self, text: str, i: int, base: int) -> int:
        i = _WHITESPACE_RUN.match(text, i).end()
        if i == len(text):
            self.state = self._object_key_start
            return i
        if text[i] != '"':
            return self._break(base + i)
        self._read_value(_KEY, base + i)
        return i

    def _read_value(self, role: int, at: int) -> None:
        self.value = JsonScanner(at)
        self.value_role = role
        self.state = self._object_value

    def _object_value(self, text: str, i: int, base: int) -> int:
        value = self.value
        i = value.feed(text, i, base)
        if value.failed:
            return self._break(value.error)
        if value.done:
            self._value_read(value, base + i)
        return i

    def _value_read(self, value: JsonScanner, at: int) -> None:
        role, call = self.value_role, self.call
        if role == _KEY:
            self.key = decode_json_string(self._fixed_text(value.start, value.end, value.fixes)) or ""
            self.state = self._object_colon
            return
        self.state = self._object_after_value
        if role == _NAME:
            name = decode_json_string(self._fixed_text(value.start, value.end, value.fixes))
            if name is None or not self.offered.accepts(name):
                self._break(at)
                return
            call.name = name
            self._commit(at)
        elif role == _ARGUMENTS and call.index is not None:
            self._complete_arguments(call)

    def _object_colon(self, text: str, i: int, base: int) -> int:
        i = _WHITESPACE_RUN.match(text, i).end()
        if i == len(text):
            return i
        if text[i] != ":":
            return self._break(base + i)
        self.state = self._object_value_start
        return i + 1

    def _object_value_start(self, text: str, i: int, base: int) -> int:
        i = _WHITESPACE_RUN.match(text, i).end()
        if i == len(text):
            return i
        call, key = self.call, self.key
        if call.name is None and key in self.fmt.name_keys:
            if text[i] != '"':
                return self._break(base + i)
            self._read_value(_NAME, base + i)
        elif call.arguments is None and key in self.fmt.argument_keys:
            self._read_value(_ARGUMENTS, base + i)
            call.arguments = self.value
            call.emitted = base + i
        else:
            self._read_value(_IGNORED, base + i)
        return i

    def _object_after_value(self, text: str, i: int, base: int) -> int:
        i = _WHITESPACE_RUN.match(text, i).end()
        if i == len(text):
            return i
        if text[i] == ",":
            self.state = self._object_key_start
            return i + 1
        if text[i] == "}":
            return self._object_closed(base + i + 1) - base
        return self._break(base + i)

    def _object_closed(self, at: int) -> int:
        call = self.call
        if call.index is None:
            return self._break(at)  # an object without a (offered) name is not a call
        self._finish_call(call, at)
        self.state = self.after_call
        return at

    # ------------------------------------------------------------------ name-then-JSON calls

    @staticmethod
    def _named_call_steps(fmt: ToolCallFormat) -> list[tuple]:
        named = fmt.named_call
        if named is None:
            return []
        steps: list[tuple] = []
        if named.call_start:
            steps.append((_LITERAL_STEP, named.call_start, False))
        if named.name_prefix:
            steps.append((_LITERAL_STEP, named.name_prefix, False))
        steps.append((_NAME_STEP,))
        if named.args_start:
            steps.append((_LITERAL_STEP, named.args_start, named.args_start_optional))
        steps.append((_ARGUMENTS_STEP,))
        if named.args_end:
            steps.append((_LITERAL_STEP, named.args_end, False))
        if named.call_end:
            steps.append((_LITERAL_STEP, named.call_end, False))
        return steps

    def _start_named_call(self, first_step: int = 0) -> None:
        self.call = _Call()
        self.step = first_step
        self.state = self._named_step

    def _named_step(self, text: str, i: int, base: int) -> int:
        i = _WHITESPACE_RUN.match(text, i).end()
        if i == len(text):
            return i
        step = self.named_steps[self.step]
        if step[0] == _LITERAL_STEP:
            self._expect_literal(step[1], base + i, self._next_named_step, optional=step[2])
        elif step[0] == _NAME_STEP:
            self.name_start = base + i
            self.state = self._named_name
        else:
            if text[i] != "{":
                return self._break(base + i)
            self.call.arguments = self.value = JsonScanner(base + i)
            self.call.emitted = base + i
            self.state = self._named_arguments
        return i

    def _next_named_step(self, marker: str | None, at: int) -> None:
        """Moves past a matched marker (or the name, or the arguments) to the call's next step."""
        self.step += 1
        if self.step < len(self.named_steps):
            self.state = self._named_step
        else:
            self._finish_call(self.call, at)
            self.state = self._after_named_call

    def _named_name(self, text: str, i: int, base: int) -> int:
        i = _NAME_RUN.match(text, i).end()
        if i == len(text):
            return i
        at = base + i
        name = self.log.slice(self.name_start, at)
        if not self.offered.accepts(name):
            return self._break(at)
        self.call.name = name
        if self.fmt.named_call.index_separator:
            self.name_start = at  # now the start of the index
            self.state = self._named_index
            return i
        self._commit(at)
        self._next_named_step(None, at)
        return i

    def _named_index(self, text: str, i: int, base: int) -> int:
        """After the name: the separator and the call's index (`:0`), committed with the id they
        make; a call without them gets a fresh id."""
        separator = self.fmt.named_call.index_separator  # one character
        at = base + i
        written = ""
        if self.name_start == at:  # right after the name
            if text[i] == separator:
                return i + 1
        else:  # after the separator: the digits
            i = _DIGIT_RUN.match(text, i).end()
            if i == len(text):
                return i
            at = base + i
            digits = self.log.slice(self.name_start + 1, at)
            if digits:
                prefix = self.fmt.named_call.name_prefix
                written = f"{prefix[0] if prefix else ''}{self.call.name}{separator}{digits}"
        self._commit(at, written)
        self._next_named_step(None, at)
        return i

    def _named_arguments(self, text: str, i: int, base: int) -> int:
        value = self.value
        i = value.feed(text, i, base)
        if value.failed:
            return self._break(value.error)
        if value.done:
            self._complete_arguments(self.call)
            self._next_named_step(None, base + i)
        return i

    def _after_named_call(self, text: str, i: int, base: int) -> int:
        named = self.fmt.named_call
        if not named.call_start:
            self.state = self._after_block_body
            return i
        i = _WHITESPACE_RUN.match(text, i).end()
        if i < len(text):
            self._expect_literal(named.call_start + self.closers, base + i, self._next_named_call)
        return i

    def _next_named_call(self, marker: str, at: int) -> None:
        if marker in self.closers:
            self._block_ended(marker, at)
        else:
            self._start_named_call(first_step=1)

    # ------------------------------------------------------------------ calls and their arguments

    def _commit(self, at: int, written_id: str = "") -> None:
        call = self.call
        call.index = self.calls_made
        self.calls_made += 1
        call_id = self.ids.claim(written_id, call.name) if written_id else self.ids.next(call.name)
        self.out.start_call(call.index, call_id, call.name)
        self.accounted = at
        if call.arguments is not None and call.arguments.done:
            self._complete_arguments(call)

    def _complete_arguments(self, call: _Call) -> None:
        """The arguments value is complete and the call committed: emit the rest of it."""
        value = call.arguments
        if value.first == "{":
            self._emit_argument_text(call, value.end)
        else:
            text = None
            if value.first == '"':
                text = object_text_in_json_string(self._fixed_text(value.start, value.end, value.fixes))
            self.out.arguments(call.index, text or "{}")
        call.arguments_done = True

    def _emit_arguments(self) -> None:
        """Emit what the arguments object being read has confirmed so far."""
        call = self.call
        if call is None or call.index is None or call.arguments_done:
            return
        value = call.arguments
        if value is not None and value.first == "{" and value.safe > call.emitted:
            self._emit_argument_text(call, value.safe)

    def _emit_argument_text(self, call: _Call, upto: int) -> None:
        text, call.fix_index = apply_fixes(
            self.log.slice(call.emitted, upto), call.emitted, call.arguments.fixes, call.fix_index
        )
        self.out.arguments(call.index, text)
        call.emitted = upto
        if upto > self.accounted:
            self.accounted = upto

    def _finish_call(self, call: _Call, at: int) -> None:
        if not call.arguments_done:
            self.out.arguments(call.index, "{}")  # no arguments, or not an object
        self.accounted = at
        self.call = None

    def _close_broken_call(self, call: _Call) -> None:
        if not call.arguments_done:
            value = call.arguments
            if value is not None and value.first == "{":
                value.finish()  # at the end of the output, a number there is complete
                self._emit_argument_text(call, value.safe)
                self.out.arguments(call.index, value.closer())
            else:
                self.out.arguments(call.index, "{}")
        self.call = None

    def _fixed_text(self, start: int, stop: int, fixes) -> str:
        return apply_fixes(self.log.slice(start, stop), start, fixes)[0]
