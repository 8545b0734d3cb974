"""An incremental scanner for one JSON value (strict JSON: no Python literals, no trailing commas).

It reads a value as its text arrives, delta by delta, looking at each character once (runs of string
characters and whitespace are skipped with a regular expression), and keeps no copy of the text. It
knows at every moment:

- whether the value is complete (`done`, `end`) or can no longer be valid JSON (`failed`, `error`:
  the position of the first character that cannot continue it);
- `safe`: how far the text is a prefix that `closer()` turns into a complete, valid value. Safe points
  are right after an opening bracket, right after a complete value, and inside a string value between
  characters (never inside a key, an escape or a number). A streaming parser emits argument text up to
  `safe` and, if the model stops or breaks off, appends `closer()`. When the value breaks off, `safe`
  is the last safe point before the offending character however the text was split into deltas, so
  that streamed and whole parsing close a broken value identically;
- `fixes`: raw control characters inside strings (not allowed by JSON) are rewritten as escapes, and
  `\\'` as `'`, so that what is emitted always parses. `apply_fixes` applies them to a slice.

Positions are absolute: the caller says where each delta begins.
"""

from __future__ import annotations

import json
import re

_STRING_RUN = re.compile(r'[^"\\\x00-\x1f]*')
_WHITESPACE_RUN = re.compile(r"[ \t\n\r]*")
_WHITESPACE = " \t\n\r"
_SIMPLE_ESCAPES = '"\\/bfnrt'
_HEX = "0123456789abcdefABCDEF"
_LITERAL_REST = {"t": "rue", "f": "alse", "n": "ull"}
_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}

# scanner states
(
    _VALUE,  # a value is expected
    _ARRAY_FIRST,  # just after "[": a value or "]"
    _OBJECT_FIRST,  # just after "{": a key or "}"
    _OBJECT_KEY,  # after ",": a key
    _COLON,
    _AFTER_VALUE,  # "," or the closing bracket
    _STRING,
    _KEY,
    _ESCAPE,
    _UNICODE_ESCAPE,
    _NUMBER,
    _LITERAL,
    _DONE,
    _FAILED,
) = range(14)

# number automaton: state -> accepting?
_NUMBER_ACCEPTING = (False, False, True, True, False, True, False, False, True)


def _number_step(state: int, ch: str) -> int:
    """Next state of the JSON number automaton, or -1 when `ch` cannot continue the number."""
    digit = "0" <= ch <= "9"
    if state == 0:  # start
        return 1 if ch == "-" else 2 if ch == "0" else 3 if digit else -1
    if state == 1:  # after "-"
        return 2 if ch == "0" else 3 if digit else -1
    if state in (2, 3):  # integer part ("0" cannot be followed by digits)
        if digit:
            return 3 if state == 3 else -1
        return 4 if ch == "." else 6 if ch in "eE" else -1
    if state in (4, 5):  # after "." / in the fraction
        if digit:
            return 5
        return 6 if state == 5 and ch in "eE" else -1
    if state == 6:  # after "e"
        return 7 if ch in "+-" else 8 if digit else -1
    return 8 if digit else -1  # after the exponent sign / in the exponent


class JsonScanner:
    __slots__ = (
        "start",
        "first",
        "state",
        "stack",
        "safe",
        "safe_in_string",
        "end",
        "error",
        "fixes",
        "_escaped_from",
        "_escape_at",
        "_position",
        "_hex_left",
        "_number",
        "_literal_rest",
    )

    def __init__(self, start: int):
        self.start = start  # absolute position of the value's first character (once seen)
        self.first = ""  # the value's first character: tells its kind
        self.state = _VALUE
        self.stack: list[str] = []  # closing brackets of the open containers
        self.safe = start
        self.safe_in_string = False
        self.end: int | None = None
        self.error: int | None = None
        self.fixes: list[tuple[int, int, str]] = []
        self._escaped_from = _STRING
        self._escape_at = 0  # where the escape being read began
        self._position = start  # where reading stopped
        self._hex_left = 0
        self._number = 0
        self._literal_rest = ""

    @property
    def done(self) -> bool:
        return self.state == _DONE

    @property
    def failed(self) -> bool:
        return self.state == _FAILED

    def closer(self) -> str:
        """What completes the text up to `safe` into a valid value."""
        return ('"' if self.safe_in_string else "") + "".join(reversed(self.stack))

    def finish(self) -> bool:
        """The text has ended: a number that could end here ends here. True when the value is complete."""
        if self.state == _NUMBER and _NUMBER_ACCEPTING[self._number]:
            self.safe, self.safe_in_string = self._position, False
            if not self.stack:
                self.state = _DONE
                self.end = self._position
        return self.state == _DONE

    def feed(self, text: str, i: int, base: int) -> int:
        """Scan text[i:], whose character k is at absolute position base + k.

        Returns len(text) when more text is needed, the index just past the value when it is complete,
        or the index of the character that makes it invalid.
        """
        state, stack, n = self.state, self.stack, len(text)
        if state >= _DONE:
            return i
        invalid = False
        value_done = False  # set when a value has just ended before index i
        while i < n:
            if state == _STRING or state == _KEY:
                j = _STRING_RUN.match(text, i).end()
                if j == n:
                    i = n
                    break
                ch = text[j]
                i = j + 1
                if ch == '"':
                    if state == _KEY:
                        state = _COLON
                    else:
                        value_done = True
                elif ch == "\\":
                    self._escaped_from, state = state, _ESCAPE
                    self._escape_at = base + j
                else:  # a raw control character
                    fix = _CONTROL_ESCAPES.get(ch) or "\\u%04x" % ord(ch)
                    self.fixes.append((base + j, base + j + 1, fix))
            else:
                ch = text[i]
                if state <= _AFTER_VALUE and ch in _WHITESPACE:
                    i = _WHITESPACE_RUN.match(text, i).end()
                    continue
                if state == _AFTER_VALUE:
                    if ch == ",":
                        state = _OBJECT_KEY if stack[-1] == "}" else _VALUE
                    elif ch == stack[-1]:
                        stack.pop()
                        value_done = True
                    else:
                        invalid = True
                        break
                    i += 1
                elif state == _VALUE or state == _ARRAY_FIRST:
                    if not self.first:
                        self.first, self.start = ch, base + i
                    if ch == "{" or ch == "[":
                        stack.append("}" if ch == "{" else "]")
                        state = _OBJECT_FIRST if ch == "{" else _ARRAY_FIRST
                        i += 1
                        self.safe, self.safe_in_string = base + i, False
                    elif ch == '"':
                        state = _STRING
                        i += 1
                    elif ch == "-" or "0" <= ch <= "9":
                        state, self._number = _NUMBER, 0
                    elif ch in _LITERAL_REST:
                        state, self._literal_rest = _LITERAL, _LITERAL_REST[ch]
                        i += 1
                    elif ch == "]" and state == _ARRAY_FIRST:
                        stack.pop()
                        i += 1
                        value_done = True
                    else:
                        invalid = True
                        break
                elif state == _OBJECT_FIRST or state == _OBJECT_KEY:
                    if ch == '"':
                        state = _KEY
                    elif ch == "}" and state == _OBJECT_FIRST:
                        stack.pop()
                        value_done = True
                    else:
                        invalid = True
                        break
                    i += 1
                elif state == _COLON:
                    if ch != ":":
                        invalid = True
                        break
                    state = _VALUE
                    i += 1
                elif state == _ESCAPE:
                    if ch in _SIMPLE_ESCAPES:
                        state = self._escaped_from
                    elif ch == "u":
                        state, self._hex_left = _UNICODE_ESCAPE, 4
                    elif ch == "'":  # \' is not JSON; models write it for '
                        self.fixes.append((base + i - 1, base + i + 1, "'"))
                        state = self._escaped_from
                    else:
                        invalid = True
                        break
                    i += 1
                elif state == _UNICODE_ESCAPE:
                    if ch not in _HEX:
                        invalid = True
                        break
                    self._hex_left -= 1
                    if not self._hex_left:
                        state = self._escaped_from
                    i += 1
                elif state == _NUMBER:
                    step = _number_step(self._number, ch)
                    if step >= 0:
                        self._number = step
                        i += 1
                    elif _NUMBER_ACCEPTING[self._number]:
                        value_done = True  # the number ended before ch
                    else:
                        invalid = True
                        break
                else:  # _LITERAL
                    if ch != self._literal_rest[0]:
                        invalid = True
                        break
                    self._literal_rest = self._literal_rest[1:]
                    i += 1
                    value_done = not self._literal_rest
            if value_done:
                value_done = False
                if stack:
                    state = _AFTER_VALUE
                    self.safe, self.safe_in_string = base + i, False
                else:
                    state = _DONE
                    self.end = self.safe = base + i
                    self.safe_in_string = False
                    break
        self._position = base + i
        if state == _STRING:
            self.safe, self.safe_in_string = base + i, True
        elif (state == _ESCAPE or state == _UNICODE_ESCAPE) and self._escaped_from == _STRING:
            self.safe, self.safe_in_string = self._escape_at, True
        if invalid:
            self.error = base + i
            state = _FAILED
        self.state = state
        return i


def apply_fixes(
    text: str, text_start: int, fixes: list[tuple[int, int, str]], first_fix: int = 0
) -> tuple[str, int]:
    """`text` (beginning at absolute position text_start) with the fixes inside it applied.

    Fixes before `first_fix` are skipped; returns the text and the index of the first fix not used
    (fixes are in position order, so a caller emitting text left to right passes it back next time).
    """
    text_stop = text_start + len(text)
    k = first_fix
    if k >= len(fixes) or fixes[k][1] > text_stop:
        return text, k
    parts, at = [], text_start
    while k < len(fixes) and fixes[k][1] <= text_stop:
        fix_start, fix_stop, replacement = fixes[k]
        parts.append(text[at - text_start : fix_start - text_start])
        parts.append(replacement)
        at = fix_stop
        k += 1
    parts.append(text[at - text_start :])
    return "".join(parts), k


def decode_json_string(raw: str) -> str | None:
    """The str a complete JSON string literal (fixes applied) stands for, or None."""
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def object_text_in_json_string(raw: str) -> str | None:
    """For arguments written as a JSON-encoded string: the object text it holds (decoded once), or None.

    The decoded text is kept as written (trimmed) when it is a JSON object; None when it is not.
    """
    decoded = decode_json_string(raw)
    if decoded is None:
        return None
    decoded = decoded.strip()
    try:
        value = json.loads(decoded)
    except ValueError:
        try:  # raw control characters inside its strings: re-encode it
            value = json.loads(decoded, strict=False)
        except ValueError:
            return None
        return json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else None
    return decoded if isinstance(value, dict) else None
