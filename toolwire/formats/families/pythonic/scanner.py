"""Pythonic tool calls: `[get_weather(city='Paris', days=3), get_time()]`.

Llama 3.2 (1B/3B), ToolACE and Llama 4 write their calls as a Python list of calls with keyword
arguments. Llama 4 wraps the list in `<|python_start|>` ... `<|python_end|>`. The argument values are
Python literals, converted here to JSON (`True` -> `true`, `None` -> `null`, tuples -> arrays,
single-quoted strings -> JSON strings).

The rules, precisely (the whole result is this same scanner run over the whole text, so the two
modes cannot disagree):

* A candidate list starts at any `[`, or at `<|python_start|>` followed by optional whitespace and
  `[`. Its elements must look like `name(...)`, `name` a Python identifier, dotted names allowed
  (`math.factorial`). Anything else (`[1, 2]`, `[link](url)`, prose) leaves the text as content,
  untouched. Text before and after a list is content too (lenient: vLLM's pythonic parser refuses
  to mix text and calls).
* A call is *kept* when every argument is `keyword=literal`, the literal has a JSON rendering (no
  sets, bytes, complex numbers, NaN or infinities, no lone surrogates: a surrogate pair written
  as `\\ud83d\\ude00` becomes its one character, as JSON reads it), no keyword repeats, and, when the
  request lists tools, the name is one of them. Otherwise the call is *dropped*: neither a call nor
  content.
* A list in which no call is kept is not a call list: its whole text is content.
  Once a call of a list is kept, no later text of that list becomes content: dropped calls and
  malformed elements vanish, up to the list's `]`. A list cut off by the end of the output keeps
  its kept calls and drops the unfinished one.
* A call is announced only once its `)` is read and it is known to be kept. A value that is not a
  literal can appear in any argument, and a delta already sent cannot be taken back, so streaming
  the name before the whole call is checked would either leak calls the whole result drops, or make
  the whole result keep calls with broken arguments. Hence each call streams as one delta: the
  OpenAI-style first entry (index, id, type, name, `arguments: ""`) followed by an entry with its
  complete JSON arguments. Calls of a list stream one by one as each closes.
* `<|python_start|>` and `<|python_end|>` around a kept list are removed, with the whitespace
  between them and the list. Whitespace elsewhere is content. `<|python_end|>` may be missing, or
  cut off, at the end of the output: the calls are kept, and what came of the marker is dropped.
* A partial `<|python_start|>` (or `<|python_end|>`) at the end of a chunk is held back, as is a
  list while it is undecided; `finish_streaming` releases what is still undecided as content (not a
  cut-off `<|python_end|>`, above).

Cost: each character is looked at a bounded number of times (the scanner walks the text once; a
completed argument value is handed once to `ast.literal_eval`), so a reply costs time linear in its
length however it is chunked.
"""

from __future__ import annotations

import ast
import json
import keyword
import logging
import re
import warnings
from collections.abc import Sequence

from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import (
    DeltaMessage,
    DeltaToolCall,
    ExtractedToolCallInformation,
    FunctionCall,
    ToolCall,
)
from toolwire.formats.base import ToolParser
from toolwire.formats.deltas import make_call_delta, make_delta
from toolwire.formats.ids import ToolCallIds
from toolwire.formats.offered import OfferedTools

logger = logging.getLogger(__name__)

PYTHON_START = "<|python_start|>"
PYTHON_END = "<|python_end|>"

_WS = " \t\r\n"
_OPENERS = "([{"
_CLOSER_OF = {")": "(", "]": "[", "}": "{"}

# Scanner states.
_TEXT = 0  # content
_WRAP = 1  # after <|python_start|>, before '['
_OPEN = 2  # after '[' or ',' of a list: a call name or ']' comes next
_NAME = 3  # inside a call name
_AFTER_NAME = 4  # after a name, before '('
_ARG_START = 5  # after '(' or ',' of a call
_ARG = 6  # inside an argument (keyword, '=', value)
_QUOTE = 7  # read 1 or 2 quote characters: a string opens ('x', '''x''') or is empty ('')
_STRING = 8  # inside a string
_AFTER_CALL = 9  # after a call's ')': ',' or ']' comes next
_SKIP = 10  # inside a malformed element of a list that has kept calls: skip to ',' or ']'
_AFTER_LIST = 11  # after the ']' of a wrapped, kept list: whitespace then <|python_end|>

_TEXT_SPECIAL = re.compile(r"[\[<]")
_STRUCTURAL = re.compile(r"""[()\[\]{},'"]""")
_STRING_STOP = {"'": re.compile(r"[\\']"), '"': re.compile(r'[\\"]')}
_KEYWORD_ARG = re.compile(r"\s*([^\W\d]\w*)\s*=(?!=)", re.S)


def literal_to_json_value(source: str) -> object:
    """The JSON-able Python value of one Python literal's source, or raise ValueError.

    Tuples become lists; sets, bytes, complex numbers, Ellipsis, NaN and infinities are refused.
    """
    value = _python_literal(source)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"no JSON form: {source[:80]!r}") from exc
    return value


def _python_literal(source: str) -> object:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes such as '\d' warn, and still parse
            return ast.literal_eval(source.strip())
    except Exception as exc:  # SyntaxError, ValueError, TypeError, RecursionError, MemoryError
        raise ValueError(f"not a Python literal: {source[:80]!r}") from exc


class _Call:
    """A call being read: its name and its raw argument texts."""

    __slots__ = ("name", "args", "valid")

    def __init__(self, name: str):
        self.name = name
        self.args: list[str] = []
        self.valid = True


class PythonicScanner:
    """The incremental pythonic call-list scanner; `feed` and `finish` return what is now certain."""

    def __init__(self, offered: OfferedTools, ids: ToolCallIds | None = None):
        self.offered = offered
        self.ids = ids or ToolCallIds()
        self._broken = False  # an internal error happened: everything from then on is content
        self.calls: list[ToolCall] = []  # every kept call, in order
        self._state = _TEXT
        self._tail = ""  # a partial marker awaiting the next chunk
        self._wrapped = False  # the current list came after <|python_start|>
        self._committed = False  # the current list has a kept call
        self._held: list[str] = []  # text of an undecided list, released as content on a bail
        self._after: list[str] = []  # whitespace after a kept call or list
        self._name: list[str] = []
        self._call: _Call | None = None
        self._arg: list[str] = []
        self._stack: list[str] = []  # open brackets inside an argument, or while skipping
        self._quote = ""
        self._quote_run = 0  # quote characters read in _QUOTE; closing run in a triple string
        self._triple = False
        self._escape = False
        self._string_return = _ARG
        # Output of the current feed.
        self._content: list[str] = []
        self._deltas: list[DeltaToolCall] = []

    # ------------------------------------------------------------------ public

    def feed(self, text: str) -> tuple[str, list[DeltaToolCall]]:
        text, self._tail = self._tail + text, ""
        return self._guarded(self._scan, text)

    def finish(self) -> tuple[str, list[DeltaToolCall]]:
        text, self._tail = self._tail, ""
        return self._guarded(self._finish, text)

    def _guarded(self, step, text: str) -> tuple[str, list[DeltaToolCall]]:
        """Run one step; should it fail, give back its text and what was held, as content, from then on."""
        if self._broken:
            return text, []
        held, held_count, committed, call_count = self._held, len(self._held), self._committed, len(self.calls)
        try:
            step(text)
        except Exception:  # no exception escapes a parser
            logger.exception("pythonic tool parser failed; the rest of the reply is content")
            self._broken = True
            del self.calls[call_count:]
            self._content, self._deltas = [], []
            return ("" if committed else "".join(held[:held_count])) + text, []
        return self._take()

    def _finish(self, tail: str) -> None:
        if self._state == _TEXT:
            self._content.append(tail)
        elif self._state == _AFTER_CALL and self._committed:
            self._content.extend(self._after)
            self._content.append(tail)
        elif not self._committed:
            self._content.extend(self._held)
            self._content.append(tail)
        # else: an unfinished element of a list with kept calls, or the whitespace and cut-off (or
        # missing) <|python_end|> after a wrapped list: dropped.
        self._reset_list()
        self._state = _TEXT

    # ------------------------------------------------------------------ scanning

    def _take(self) -> tuple[str, list[DeltaToolCall]]:
        content, deltas = "".join(self._content), self._deltas
        self._content, self._deltas = [], []
        return content, deltas

    def _hold(self, text: str) -> None:
        if not self._committed:
            self._held.append(text)

    def _scan(self, text: str) -> None:  # noqa: C901 - one state machine, read top to bottom
        i, n = 0, len(text)
        while i < n:
            state = self._state
            c = text[i]

            if state == _TEXT:
                m = _TEXT_SPECIAL.search(text, i)
                if m is None:
                    self._content.append(text[i:])
                    return
                j = m.start()
                if j > i:
                    self._content.append(text[i:j])
                i = j
                if text[i] == "[":
                    self._begin_list("[", wrapped=False)
                    i += 1
                    continue
                rest = text[i : i + len(PYTHON_START)]
                if rest == PYTHON_START:
                    self._begin_list(PYTHON_START, wrapped=True)
                    i += len(PYTHON_START)
                elif len(rest) < len(PYTHON_START) and PYTHON_START.startswith(rest):
                    self._tail = rest
                    return
                else:
                    self._content.append("<")
                    i += 1

            elif state == _WRAP:
                if c in _WS:
                    self._hold(c)
                elif c == "[":
                    self._hold(c)
                    self._state = _OPEN
                else:
                    self._bail()
                    continue
                i += 1

            elif state == _OPEN:
                if c in _WS:
                    self._hold(c)
                elif c.isalpha() or c == "_":
                    self._hold(c)
                    self._name = [c]
                    self._state = _NAME
                elif c == "]":
                    self._hold(c)
                    self._end_list()
                else:
                    self._element_error()
                    continue
                i += 1

            elif state == _NAME:
                if c.isalnum() or c == "_" or c == ".":
                    self._name.append(c)
                    self._hold(c)
                elif c == "(":
                    self._hold(c)
                    self._begin_call()
                elif c in _WS:
                    self._hold(c)
                    self._state = _AFTER_NAME
                else:
                    self._element_error()
                    continue
                i += 1

            elif state == _AFTER_NAME:
                if c in _WS:
                    self._hold(c)
                elif c == "(":
                    self._hold(c)
                    self._begin_call()
                else:
                    self._element_error()
                    continue
                i += 1

            elif state == _ARG_START:
                if c in _WS:
                    self._hold(c)
                elif c == ")":
                    self._hold(c)
                    self._end_call()
                elif c == ",":  # f(,) or f(a=1,,b=2): a syntax error
                    self._hold(c)
                    self._call.valid = False
                else:
                    self._arg, self._stack = [], []
                    self._state = _ARG
                    continue
                i += 1

            elif state == _ARG:
                m = _STRUCTURAL.search(text, i)
                j = m.start() if m else n
                if j > i:
                    chunk = text[i:j]
                    self._arg.append(chunk)
                    self._hold(chunk)
                    i = j
                    continue
                if c in "'\"":
                    self._begin_quote(c, _ARG)
                elif c in _OPENERS:
                    self._stack.append(c)
                    self._arg.append(c)
                    self._hold(c)
                elif c in _CLOSER_OF:
                    if self._stack:
                        if self._stack[-1] != _CLOSER_OF[c]:
                            self._element_error()
                            continue
                        self._stack.pop()
                        self._arg.append(c)
                        self._hold(c)
                    elif c == ")":
                        self._hold(c)
                        self._end_arg()
                        self._end_call()
                    else:
                        self._element_error()
                        continue
                else:  # ','
                    self._hold(c)
                    if self._stack:
                        self._arg.append(c)
                    else:
                        self._end_arg()
                        self._state = _ARG_START
                i += 1

            elif state == _QUOTE:
                if c == self._quote and self._quote_run < 3:
                    self._quote_run += 1
                    self._keep_string_char(c)
                    i += 1
                    if self._quote_run == 3:
                        self._triple, self._quote_run, self._state = True, 0, _STRING
                elif self._quote_run == 1:
                    self._triple, self._quote_run, self._state = False, 0, _STRING
                else:  # '' : an empty string, already closed
                    self._state = self._string_return

            elif state == _STRING:
                if self._escape:
                    self._escape = False
                    self._keep_string_char(c)
                    i += 1
                    continue
                m = _STRING_STOP[self._quote].search(text, i)
                j = m.start() if m else n
                if j > i:
                    self._keep_string_char(text[i:j])
                    self._quote_run = 0
                    i = j
                    continue
                self._keep_string_char(c)
                i += 1
                if c == "\\":
                    self._escape = True
                    self._quote_run = 0
                elif not self._triple:
                    self._state = self._string_return
                else:
                    self._quote_run += 1
                    if self._quote_run == 3:
                        self._quote_run = 0
                        self._state = self._string_return

            elif state == _AFTER_CALL:
                if c in _WS:
                    (self._hold if not self._committed else self._after.append)(c)
                elif c == ",":
                    self._hold(c)
                    self._after = []
                    self._state = _OPEN
                elif c == "]":
                    self._hold(c)
                    self._after = []
                    self._end_list()
                elif not self._committed:
                    self._bail()
                    continue
                else:
                    # A kept list that is not closed: it ends here, and what follows is content.
                    self._content.extend(self._after)
                    self._reset_list()
                    self._state = _TEXT
                    continue
                i += 1

            elif state == _SKIP:
                m = _STRUCTURAL.search(text, i)
                if m is None:
                    return
                i = m.start()
                c = text[i]
                if c in "'\"":
                    self._begin_quote(c, _SKIP)
                elif c in _OPENERS:
                    self._stack.append(c)
                elif c in _CLOSER_OF:
                    if self._stack:
                        self._stack.pop()
                    elif c == "]":
                        self._end_list()
                elif not self._stack:  # ','
                    self._state = _OPEN
                i += 1

            else:  # _AFTER_LIST
                if c in _WS:
                    self._after.append(c)
                    i += 1
                    continue
                rest = text[i : i + len(PYTHON_END)]
                if rest == PYTHON_END:
                    self._after = []
                    self._state = _TEXT
                    i += len(PYTHON_END)
                elif len(rest) < len(PYTHON_END) and PYTHON_END.startswith(rest):
                    self._tail = rest
                    return
                else:
                    self._content.extend(self._after)
                    self._after = []
                    self._state = _TEXT

    # ------------------------------------------------------------------ transitions

    def _begin_list(self, opener: str, wrapped: bool) -> None:
        self._reset_list()
        self._held = [opener]
        self._wrapped = wrapped
        self._state = _WRAP if wrapped else _OPEN

    def _reset_list(self) -> None:
        self._held, self._after, self._stack, self._arg, self._name = [], [], [], [], []
        self._call, self._committed, self._wrapped, self._escape = None, False, False, False

    def _bail(self) -> None:
        """An undecided list proved not to be a call list: its text so far is content."""
        self._content.extend(self._held)
        self._reset_list()
        self._state = _TEXT

    def _element_error(self) -> None:
        """A malformed list element; the offending character is read again in the new state."""
        if not self._committed:
            self._bail()
        else:
            self._call, self._stack = None, []
            self._state = _SKIP

    def _end_list(self) -> None:
        if not self._committed:
            self._bail()
        elif self._wrapped:
            self._held, self._after = [], []
            self._state = _AFTER_LIST
        else:
            self._reset_list()
            self._state = _TEXT

    def _begin_call(self) -> None:
        self._call = _Call("".join(self._name))
        self._state = _ARG_START

    def _begin_quote(self, quote: str, return_state: int) -> None:
        self._quote, self._quote_run, self._string_return = quote, 1, return_state
        self._keep_string_char(quote)
        self._state = _QUOTE

    def _keep_string_char(self, text: str) -> None:
        if self._string_return == _ARG:
            self._arg.append(text)
            self._hold(text)

    def _end_arg(self) -> None:
        self._call.args.append("".join(self._arg))
        self._arg = []

    def _end_call(self) -> None:
        call, self._call = self._call, None
        self._state = _AFTER_CALL
        arguments = self._arguments_json(call)
        if arguments is None:
            return
        self._committed = True
        self._held = []
        tool_call = ToolCall.model_construct(
            id=self.ids.next(),
            type="function",
            function=FunctionCall.model_construct(name=call.name, arguments=arguments),
        )
        index = len(self.calls)
        self.calls.append(tool_call)
        self._deltas.append(make_call_delta(index, tool_call.id, call.name, ""))
        self._deltas.append(make_call_delta(index, None, None, arguments))

    def _arguments_json(self, call: _Call) -> str | None:
        """The call's arguments as a JSON object text, or None when the call is dropped."""
        if not call.valid or not _is_dotted_identifier(call.name):
            return None
        if not self.offered.accepts(call.name):
            return None
        arguments: dict[str, object] = {}
        for arg in call.args:
            m = _KEYWORD_ARG.match(arg)
            if m is None:
                return None  # positional, *args or **kwargs
            name = m.group(1)
            if keyword.iskeyword(name) or name in arguments:
                return None
            try:
                arguments[name] = _python_literal(arg[m.end() :])
            except ValueError:
                return None
        try:  # refuses what JSON cannot carry: sets, bytes, complex, NaN, infinities, tuple keys
            text = json.dumps(arguments, ensure_ascii=False, allow_nan=False)
            text.encode("utf-8")
        except UnicodeEncodeError:
            return _join_surrogate_pairs(text)
        except (TypeError, ValueError, RecursionError):
            return None
        return text


def _join_surrogate_pairs(text: str) -> str | None:
    """Python reads '\\ud83d\\ude00' as two surrogates, JSON as one character: a model writing JSON
    escapes in a Python string means the character. A lone surrogate has no UTF-8 form: None."""
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        return None


def _is_dotted_identifier(name: str) -> bool:
    parts = name.split(".")
    return all(part.isidentifier() and not keyword.iskeyword(part) for part in parts)


class PythonicToolParser(ToolParser):
    """`[f(a=1), g()]` calls, optionally wrapped in Llama 4's `<|python_start|>`/`<|python_end|>`."""

    reads_full_text = False  # keeps its own state; reads only delta_text (see toolwire.chat.output)

    def __init__(self, tokenizer=None):
        super().__init__(tokenizer)
        self._scanner: PythonicScanner | None = None

    def _scanner_for(self, request: ChatCompletionRequest | None) -> PythonicScanner:
        if self._scanner is None:
            self._scanner = PythonicScanner(OfferedTools(request))
        return self._scanner

    def extract_tool_calls_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Sequence[int],
        current_token_ids: Sequence[int],
        delta_token_ids: Sequence[int],
        request: ChatCompletionRequest,
    ) -> DeltaMessage | None:
        return _delta(*self._scanner_for(request).feed(delta_text))

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> DeltaMessage | None:
        return _delta(*self._scanner_for(request).finish())

    def extract_tool_calls(
        self, model_output: str, request: ChatCompletionRequest
    ) -> ExtractedToolCallInformation:
        scanner = PythonicScanner(OfferedTools(request))  # the streaming scanner, fed the whole text
        content = scanner.feed(model_output)[0] + scanner.finish()[0]
        return ExtractedToolCallInformation(
            tools_called=bool(scanner.calls), tool_calls=list(scanner.calls), content=content or None
        )


def _delta(content: str, deltas: list[DeltaToolCall]) -> DeltaMessage | None:
    if not content and not deltas:
        return None
    return make_delta(content or None, deltas)
