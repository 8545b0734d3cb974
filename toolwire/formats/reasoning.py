"""Reasoning parsers: split a reply's reasoning (`<think>…</think>`) from its content.

`--reasoning-parser NAME` picks one by name from `registry.ReasoningParserManager`; plugin files
register more with `@ReasoningParserManager.register_module([...])`, as tool parsers do. One
instance parses one response (one choice). The built-in families (`families/think.py`) run
`ThinkSplitter`, below, over the text: the whole result is the streaming splitter run over the whole
text, so the two modes cannot disagree.

A reasoning family also says where its reasoning is for constrained decoding
(`ReasoningParser.reasoning_region`): a grammar then applies only after the reasoning ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import DeltaMessage


@dataclass(frozen=True)
class Reasoning:
    """Where a reply's reasoning is: free text up to `end`, after which a constraint applies.

    `opened_in_prompt`: the prompt already ends with `start` (DeepSeek-R1, Qwen3 templates), so the
    output begins inside the reasoning and must close it. Otherwise the output may begin with a whole
    `start ... end` block, or skip it when `optional` (Qwen3 when the model decides not to think).
    """

    end: str = "</think>"
    start: str = "<think>"
    opened_in_prompt: bool = True
    optional: bool = False


class ReasoningParser:
    """Splits a reply into reasoning_content and content, whole or delta by delta.

    The streaming method takes the same arguments as `ToolParser.extract_tool_calls_streaming`. Call
    `begin` first when the rendered prompt is known (it tells whether the output starts inside the
    reasoning); `finish_streaming` last, to release what was held back.
    """

    def __init__(self, tokenizer: Any = None):
        self.model_tokenizer = tokenizer

    def begin(self, request: ChatCompletionRequest, prompt_text: str | None = None) -> None:
        """Called once before the first delta, with the request and, when known, the rendered prompt."""

    def adjust_request(self, request: ChatCompletionRequest) -> ChatCompletionRequest:
        return request

    def reasoning_region(self, request: ChatCompletionRequest, prompt_text: str | None) -> Reasoning | None:
        """Where this reply's reasoning is, for a constraint that applies after it; None: the reply
        has no reasoning (or this parser does not say where it is, so a constraint applies from the
        start)."""
        return None

    def is_reasoning_end(self, token_ids: Sequence[int]) -> bool:
        """Whether these output token ids already contain the end of the reasoning."""
        return False

    def extract_reasoning_content(
        self, model_output: str, request: ChatCompletionRequest
    ) -> tuple[str | None, str | None]:
        """(reasoning_content, content) of a whole reply."""
        raise NotImplementedError

    def extract_reasoning_content_streaming(
        self,
        previous_text: str,
        current_text: str,
        delta_text: str,
        previous_token_ids: Sequence[int],
        current_token_ids: Sequence[int],
        delta_token_ids: Sequence[int],
        request: ChatCompletionRequest,
    ) -> DeltaMessage | None:
        """The delta's reasoning_content and content (reasoning first), or None. A parser whose reasoning
        and content interleave (harmony) may return a list of such deltas, in the order of the text."""
        raise NotImplementedError

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> DeltaMessage | None:
        """Called once when the stream ends: release whatever was held back."""
        return None


# ---------------------------------------------------------------- the tag splitter

REASONING, CONTENT, UNDECIDED = "reasoning", "content", "undecided"
"""Where an output that does not open with the start tag begins."""

_AT_START, _IN_REASONING, _AFTER_END, _IN_CONTENT, _IN_UNDECIDED = range(5)


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a proper beginning of `tag`."""
    for k in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:k]):
            return k
    return 0


class ThinkSplitter:
    """Splits text fed in pieces into (reasoning, content); each character is looked at a bounded
    number of times.

    An opening tag at the very start of the text (after optional whitespace) opens the reasoning,
    which runs to the end tag or to the end of the text; elsewhere it is plain text. A text that does
    not open with the tag begins as `start_mode` says: REASONING, CONTENT, or UNDECIDED (held back
    until the end tag shows it was reasoning, or the end of the text shows it was content). Reasoning
    is the text between the tags with surrounding whitespace removed; the whitespace right after the
    end tag separates and is not content. A partial tag at the end of a piece is held back until the
    next piece decides it; `finish` releases what is still held, as the text it is.

    Each tag may be given as several spellings (Kimi's `<think>` and `◁think▷`); no start tags at all
    means the text never opens reasoning (with start_mode CONTENT: all of it is content).
    """

    def __init__(self, start_mode: str, start_tag: str | Sequence[str] = "<think>",
                 end_tag: str | Sequence[str] = "</think>"):
        self.start_mode = start_mode
        self.start_tags = (start_tag,) if isinstance(start_tag, str) else tuple(start_tag)
        self.end_tags = (end_tag,) if isinstance(end_tag, str) else tuple(end_tag)
        self.reasoning_ended = False
        self._state = _AT_START
        self._carry = ""  # text awaiting more input: leading whitespace, a partial tag
        self._held: list[str] = []  # undecided text
        self._reasoning_started = False  # leading whitespace of the reasoning is dropped
        self._reasoning_ws: list[str] = []  # whitespace that ends the reasoning so far
        self._reasoning: list[str] = []
        self._content: list[str] = []

    def feed(self, text: str) -> tuple[str, str]:
        text, self._carry = self._carry + text, ""
        while text:
            state = self._state
            if state == _AT_START:
                body = text.lstrip()
                opening = next((tag for tag in self.start_tags if body.startswith(tag)), None)
                if opening is not None:
                    self._state, text = _IN_REASONING, body[len(opening) :]
                elif not body or any(len(body) < len(tag) and tag.startswith(body) for tag in self.start_tags):
                    self._carry = text
                    break
                else:
                    self._state = {REASONING: _IN_REASONING, CONTENT: _IN_CONTENT}.get(
                        self.start_mode, _IN_UNDECIDED
                    )
            elif state == _IN_CONTENT:
                self._content.append(text)
                break
            elif state == _AFTER_END:
                text = text.lstrip()
                if text:
                    self._state = _IN_CONTENT
            else:  # reasoning or undecided: look for the end tag
                at, end_tag = self._find_end(text)
                if at < 0:
                    keep = max((_partial_suffix(text, tag) for tag in self.end_tags), default=0)
                    self._carry = text[len(text) - keep :]
                    self._before_end(text[: len(text) - keep])
                    break
                self._before_end(text[:at])
                if state == _IN_UNDECIDED:
                    held, self._held = "".join(self._held), []
                    self._add_reasoning(held)
                self._reasoning_ws = []
                self.reasoning_ended = True
                self._state, text = _AFTER_END, text[at + len(end_tag) :]
        return self._take()

    def _find_end(self, text: str) -> tuple[int, str]:
        """(position, tag) of the first end tag in `text`, or (-1, "")."""
        found = (-1, "")
        for tag in self.end_tags:
            at = text.find(tag)
            if at >= 0 and (found[0] < 0 or at < found[0]):
                found = (at, tag)
        return found

    def finish(self) -> tuple[str, str]:
        text, self._carry = self._carry, ""
        state = self._state
        if state == _AT_START:
            state = {REASONING: _IN_REASONING, CONTENT: _IN_CONTENT}.get(self.start_mode, _IN_UNDECIDED)
        if state == _IN_REASONING:
            self._add_reasoning(text)
        elif state == _IN_UNDECIDED:
            self._content.extend(self._held)
            self._content.append(text)
            self._held = []
        elif state == _IN_CONTENT:
            self._content.append(text)
        self._state = _AFTER_END if state != _IN_CONTENT else _IN_CONTENT
        return self._take()

    def _before_end(self, text: str) -> None:
        if self._state == _IN_UNDECIDED:
            if text:
                self._held.append(text)
        else:
            self._add_reasoning(text)

    def _add_reasoning(self, text: str) -> None:
        if not self._reasoning_started:
            text = text.lstrip()
            if not text:
                return
            self._reasoning_started = True
        body = text.rstrip()
        if not body:
            self._reasoning_ws.append(text)
            return
        if self._reasoning_ws:
            self._reasoning.extend(self._reasoning_ws)
            self._reasoning_ws = []
        self._reasoning.append(body)
        if len(body) < len(text):
            self._reasoning_ws.append(text[len(body) :])

    def _take(self) -> tuple[str, str]:
        reasoning, content = "".join(self._reasoning), "".join(self._content)
        self._reasoning, self._content = [], []
        return reasoning, content
