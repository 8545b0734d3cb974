"""Reading harmony messages (gpt-oss) as text arrives: the one scanner both harmony parsers run.

A reply is a run of messages, `<|start|>ROLE HEADER<|message|>BODY END`. The first message's
`<|start|>assistant` is in the prompt, so the output begins inside a header (`<|channel|>...`, or
` to=...` when the recipient comes first). A header names the channel (`analysis`, `commentary`,
`final`), maybe a recipient (`to=functions.NAME`, before or after the channel) and a content type
(`<|constrain|>json`, or a bare `json`). END is `<|end|>`, `<|call|>` (a tool call) or `<|return|>`.

What the reader reports, in order, to a sink (every character of the input goes to exactly one
event, so a sink can pass a message on verbatim):

- `text(s)`: text outside any message, and a header that broke off (it met an end marker or a
  `<|start|>`, or grew past MAX_HEADER, before `<|message|>`): passed on as it is.
- `header(h)`: a complete header (`h.raw` is its text, from its first character to `<|message|>`).
- a body. A message with a recipient whose body opens with `{` has a JSON body: `gap(s)` (the
  whitespace before it), `json_start(scanner)`, `json(s, at)` for its text, `json_end(complete)`
  when the value is complete or can no longer be (the rest of the body is then text), and `gap(s)`
  for the whitespace after it. Any other body is `body(s)`. A JSON body ends where the value ends,
  so an end marker written inside one of its strings is string text; a text body ends at the first
  end marker, or at a `<|start|>` (a message whose end marker is missing).
- `end(marker)`: the message ended with `marker` ("" when it had none).

A marker cut off at the end of a delta is held back until the next delta decides it; `finish`
releases what is still held as what it is. Each character is looked at a bounded number of times,
so the whole result (the reader fed the whole text) is the streamed one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from toolwire.formats.json_scanner import JsonScanner

START = "<|start|>"
CHANNEL = "<|channel|>"
MESSAGE = "<|message|>"
CONSTRAIN = "<|constrain|>"
END = "<|end|>"
CALL = "<|call|>"
RETURN = "<|return|>"
MESSAGE_ENDS = (END, CALL, RETURN)
RECIPIENT = "to="

MAX_HEADER = 256  # a header longer than this is not one (it is held back until decided)
_MAX_HELD_WHITESPACE = 64  # whitespace held while undecided, before it counts as text

_WHITESPACE_RUN = re.compile(r"[ \t\r\n]*")
_OPENERS = re.compile(re.escape(START) + "|" + re.escape(CHANNEL))
_HEADER_STOPS = re.compile("|".join(re.escape(m) for m in (MESSAGE, START, *MESSAGE_ENDS)))
_BODY_STOPS = re.compile("|".join(re.escape(m) for m in (*MESSAGE_ENDS, START)))

_ROLE = re.compile(re.escape(START) + r"\s*([^\s<]+)")
_CHANNEL_NAME = re.compile(re.escape(CHANNEL) + r"\s*([^\s<]+)")
_RECIPIENT_NAME = re.compile(r"(?:^|\s|>)to=([^\s<]+)")
_CONTENT_TYPE = re.compile(re.escape(CONSTRAIN) + r"\s*([^\s<]+)|(?<=\s)(json)(?=\s*$)")


@dataclass(frozen=True)
class Header:
    raw: str
    role: str | None
    channel: str | None
    recipient: str | None
    content_type: str | None


def parse_header(raw: str) -> Header:
    role = _ROLE.search(raw)
    channel = _CHANNEL_NAME.search(raw)
    recipient = _RECIPIENT_NAME.search(raw)
    content_type = _CONTENT_TYPE.search(raw.removesuffix(MESSAGE))
    return Header(raw=raw, role=role.group(1) if role else None, channel=channel.group(1) if channel else None,
                  recipient=recipient.group(1) if recipient else None,
                  content_type=(content_type.group(1) or content_type.group(2)) if content_type else None)


def _partial_suffix(text: str, start: int, markers: tuple[str, ...]) -> int:
    """Length of the longest end of text[start:] that is a proper beginning of one of `markers`."""
    longest = max(len(m) for m in markers) - 1
    for k in range(min(longest, len(text) - start), 0, -1):
        tail = text[len(text) - k :]
        if any(m.startswith(tail) for m in markers):
            return k
    return 0


_OPENER_MARKERS = (START, CHANNEL)
_HEADER_MARKERS = (MESSAGE, START, *MESSAGE_ENDS)
_BODY_MARKERS = (*MESSAGE_ENDS, START)
_FIRST_OPENERS = (START, CHANNEL, RECIPIENT)


class MessageReader:
    """Reads harmony messages from text fed in pieces; reports them to `sink` (see the module doc)."""

    def __init__(self, sink):
        self.sink = sink
        self._state = self._output_start
        self._tail = ""  # text awaiting the next piece: a cut-off marker, undecided whitespace
        self._consumed = 0  # absolute position of the first character not yet read (the tail's start)
        self._header: list[str] = []
        self._header_length = 0
        self._scanner: JsonScanner | None = None

    def feed(self, text: str) -> None:
        text, self._tail = self._tail + text, ""
        base, i, n = self._consumed, 0, len(text)
        while i < n and not self._tail:
            i = self._state(text, i, base)
        self._consumed = base + n - len(self._tail)

    def finish(self) -> None:
        """The output has ended: what is held back is released, an open message ends without a marker."""
        text, self._tail = self._tail, ""
        state = self._state
        if state == self._header_state:
            self.sink.text("".join(self._header) + text)
        elif state in (self._body_start, self._body_text):
            if text:
                self.sink.body(text)
            self.sink.end("")
        elif state == self._json_body:
            self.sink.json_end(self._scanner.finish())
            self.sink.end("")
        elif state == self._after_json:
            if text:
                self.sink.gap(text)  # whitespace, or an end marker cut off by the end of the output
            self.sink.end("")
        elif text:
            self.sink.text(text)
        self._header, self._scanner = [], None
        self._state = self._outside

    # ------------------------------------------------------------------ outside messages

    def _output_start(self, text: str, i: int, base: int) -> int:
        """The output's beginning: a header (the prompt ended with `<|start|>assistant`), or text."""
        j = _WHITESPACE_RUN.match(text, i).end()
        for opener in _FIRST_OPENERS:
            if text.startswith(opener, j):
                return self._begin_header(text, i, j + len(opener))
        rest = text[j:]
        if j - i <= _MAX_HELD_WHITESPACE and any(opener.startswith(rest) for opener in _FIRST_OPENERS):
            self._tail = text[i:]  # undecided: whitespace, or the beginning of an opener
            return len(text)
        self._state = self._outside
        return i

    def _outside(self, text: str, i: int, base: int) -> int:
        found = _OPENERS.search(text, i)
        if found is not None:
            if found.start() > i:
                self.sink.text(text[i : found.start()])
            return self._begin_header(text, found.start(), found.end())
        keep = _partial_suffix(text, i, _OPENER_MARKERS)
        if len(text) - keep > i:
            self.sink.text(text[i : len(text) - keep])
        self._tail = text[len(text) - keep :]
        return len(text)

    # ------------------------------------------------------------------ headers

    def _begin_header(self, text: str, start: int, opener_end: int) -> int:
        self._header = [text[start:opener_end]]
        self._header_length = opener_end - start
        self._state = self._header_state
        return opener_end

    def _header_state(self, text: str, i: int, base: int) -> int:
        room = MAX_HEADER - self._header_length
        stop = _HEADER_STOPS.search(text, i, i + room + len(MESSAGE))
        if stop is not None and stop.group() == MESSAGE and stop.start() - i <= room:
            self._header.append(text[i : stop.end()])
            header = parse_header("".join(self._header))
            self._header = []
            self.sink.header(header)
            self._state = self._body_start if header.recipient else self._body_text
            return stop.end()
        if stop is not None and stop.start() - i <= room:
            return self._header_broken(text, i, stop.start())
        if len(text) - i > room:
            return self._header_broken(text, i, i + room)
        keep = _partial_suffix(text, i, _HEADER_MARKERS)
        self._header.append(text[i : len(text) - keep])
        self._header_length += len(text) - keep - i
        self._tail = text[len(text) - keep :]
        return len(text)

    def _header_broken(self, text: str, i: int, at: int) -> int:
        """Not a header after all: its text is text, and reading goes on at `at` outside messages."""
        self.sink.text("".join(self._header) + text[i:at])
        self._header = []
        self._state = self._outside
        return at

    # ------------------------------------------------------------------ bodies

    def _body_start(self, text: str, i: int, base: int) -> int:
        """The body of a message with a recipient: JSON when it opens with `{`, else text."""
        j = _WHITESPACE_RUN.match(text, i).end()
        if j == len(text) and j - i <= _MAX_HELD_WHITESPACE:
            self._tail = text[i:]
            return j
        if j < len(text) and text[j] == "{":
            if j > i:
                self.sink.gap(text[i:j])
            self._scanner = JsonScanner(base + j)
            self.sink.json_start(self._scanner)
            self._state = self._json_body
            return j
        self._state = self._body_text
        return i

    def _json_body(self, text: str, i: int, base: int) -> int:
        scanner = self._scanner
        k = scanner.feed(text, i, base)
        if k > i:
            self.sink.json(text[i:k], base + i)
        if scanner.done:
            self.sink.json_end(True)
            self._state = self._after_json
        elif scanner.failed:
            self.sink.json_end(False)  # the rest of the body is text
            self._state = self._body_text
        return k

    def _after_json(self, text: str, i: int, base: int) -> int:
        j = _WHITESPACE_RUN.match(text, i).end()
        for marker in MESSAGE_ENDS:
            if text.startswith(marker, j):
                if j > i:
                    self.sink.gap(text[i:j])
                return self._message_ended(marker, j + len(marker))
        rest = text[j:]
        if j - i <= _MAX_HELD_WHITESPACE and any(marker.startswith(rest) for marker in MESSAGE_ENDS):
            self._tail = text[i:]
            return len(text)
        self._state = self._body_text  # something other than the end marker follows the value
        return i

    def _body_text(self, text: str, i: int, base: int) -> int:
        stop = _BODY_STOPS.search(text, i)
        if stop is not None:
            if stop.start() > i:
                self.sink.body(text[i : stop.start()])
            if stop.group() == START:  # the end marker is missing: a new message begins
                return self._message_ended("", stop.start())
            return self._message_ended(stop.group(), stop.end())
        keep = _partial_suffix(text, i, _BODY_MARKERS)
        if len(text) - keep > i:
            self.sink.body(text[i : len(text) - keep])
        self._tail = text[len(text) - keep :]
        return len(text)

    def _message_ended(self, marker: str, at: int) -> int:
        self.sink.end(marker)
        self._scanner = None
        self._state = self._outside
        return at
