"""Reasoning parsers: split `<think>…</think>` reasoning from the content of a reply.

`--reasoning-parser NAME` picks one by name from `ReasoningParserManager`; plugin files register more
with `@ReasoningParserManager.register_module([...])`, as tool parsers do. One instance parses one
response (one choice). The whole result is the streaming splitter run over the whole text, so the two
modes cannot disagree.

The rules of the built-in `<think>` families:

* An opening `<think>` at the very start of the output (after optional whitespace) always opens the
  reasoning, which runs to `</think>` or to the end of the output. Elsewhere `<think>` is plain text.
* Output that does not start with `<think>` may still start inside the reasoning, when the opening tag
  was in the prompt. Who starts there:

  - `deepseek_r1`: always (DeepSeek-R1's template ends the prompt with `<think>\\n`, and older R1s
    skipped the tag but still reasoned), unless thinking is switched off (`chat_template_kwargs`
    `enable_thinking: false` or `thinking: false`) or the prompt is known and already closes the
    reasoning (ends with `</think>`). Without a `</think>` the whole output is reasoning.
  - `qwen3`: only if the output contains `</think>`. Qwen3 writes `<think>` itself when it thinks;
    the Thinking-2507 models have it in the prompt; `enable_thinking: false` writes none (the template
    puts an empty `<think></think>` in the prompt). So: thinking switched off -> content; prompt known
    -> reasoning if it ends with `<think>`, else content; prompt unknown -> the text is held back until
    `</think>` (what came before was reasoning) or the end of the output (it was all content). The
    server passes the rendered prompt, so that holding back is a fallback, not the rule.

* Reasoning is the text between the tags with surrounding whitespace removed (`<think>\\n…\\n</think>`);
  the whitespace right after `</think>` (`\\n\\n` in both families) separates and is not content.
  Content that comes out of a reply without reasoning is untouched.
* A partial tag at the end of a chunk (`</thi`) is held back until the next chunk decides it;
  `finish_streaming` releases what is still held, as the text it is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import DeltaMessage
from toolwire.formats.base import ToolParserManager

logger = logging.getLogger(__name__)



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
        """The delta's reasoning_content and content (reasoning always comes first), or None."""
        raise NotImplementedError

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> DeltaMessage | None:
        """Called once when the stream ends: release whatever was held back."""
        return None


class ReasoningParserManager:
    """Reasoning parsers by name: built-in ones and those registered by plugin files."""

    reasoning_parsers: dict[str, type[ReasoningParser]] = {}

    @classmethod
    def register_module(
        cls,
        name: str | list[str] | None = None,
        force: bool = True,
        module: type[ReasoningParser] | None = None,
    ) -> Callable[[type[ReasoningParser]], type[ReasoningParser]] | type[ReasoningParser]:
        """Register a parser class under one or more names; usable as a decorator."""

        def register(parser_class: type[ReasoningParser]) -> type[ReasoningParser]:
            names = [name] if isinstance(name, str) else (name or [parser_class.__name__])
            for each in names:
                if not force and each in cls.reasoning_parsers:
                    raise KeyError(f"reasoning parser {each!r} is already registered")
                cls.reasoning_parsers[each] = parser_class
            return parser_class

        return register(module) if module is not None else register

    @classmethod
    def get_reasoning_parser(cls, name: str) -> type[ReasoningParser]:
        if name in cls.reasoning_parsers:
            return cls.reasoning_parsers[name]
        known = ", ".join(sorted(cls.reasoning_parsers))
        raise KeyError(f"unknown reasoning parser {name!r}; known parsers: {known}")

    @classmethod
    def names(cls) -> list[str]:
        return sorted(cls.reasoning_parsers)

    @classmethod
    def import_reasoning_parser(cls, plugin_path: str | Path) -> None:
        """Load a plugin file; its `@ReasoningParserManager.register_module` decorators register it."""
        ToolParserManager.import_tool_parser(plugin_path)  # loading a plugin file is the same act


# ---------------------------------------------------------------- the <think> splitter

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
    """Splits text fed in pieces into (reasoning, content); each character is looked at a bounded number of times."""

    def __init__(self, start_mode: str, start_tag: str = "<think>", end_tag: str = "</think>"):
        self.start_mode = start_mode
        self.start_tag, self.end_tag = start_tag, end_tag
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
                if body.startswith(self.start_tag):
                    self._state, text = _IN_REASONING, body[len(self.start_tag) :]
                elif not body or (len(body) < len(self.start_tag) and self.start_tag.startswith(body)):
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
                at = text.find(self.end_tag)
                if at < 0:
                    keep = _partial_suffix(text, self.end_tag)
                    self._carry = text[len(text) - keep :]
                    self._before_end(text[: len(text) - keep])
                    break
                self._before_end(text[:at])
                if state == _IN_UNDECIDED:
                    held, self._held = "".join(self._held), []
                    self._add_reasoning(held)
                self._reasoning_ws = []
                self.reasoning_ended = True
                self._state, text = _AFTER_END, text[at + len(self.end_tag) :]
        return self._take()

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


def thinking_switched_off(request: ChatCompletionRequest | None) -> bool:
    """The request's chat_template_kwargs turn thinking off (`enable_thinking` or `thinking` false)."""
    kwargs = (request.chat_template_kwargs if request is not None else None) or {}
    for key in ("enable_thinking", "thinking"):
        value = kwargs.get(key)
        if value is False or (isinstance(value, str) and value.strip().lower() in ("false", "0", "no")):
            return True
    return False


class ThinkTagReasoningParser(ReasoningParser):
    """`<think>…</think>` reasoning; subclasses say where an output without the opening tag begins."""

    reads_full_text = False  # keeps its own state; reads only delta_text (see toolwire.chat.output)

    start_tag = "<think>"
    end_tag = "</think>"

    def __init__(self, tokenizer: Any = None):
        super().__init__(tokenizer)
        self._prompt_text: str | None = None
        self._splitter: ThinkSplitter | None = None
        self._end_token_id: int | None | bool = False  # False: not looked up yet

    def start_mode(self, request: ChatCompletionRequest | None, prompt_text: str | None) -> str:
        """REASONING, CONTENT or UNDECIDED: where an output that does not open with the start tag begins."""
        raise NotImplementedError

    def prompt_state(self, prompt_text: str | None) -> str | None:
        """'open' when the prompt ends inside a reasoning block, 'closed' when it ends one, None else."""
        if prompt_text is None:
            return None
        tail = prompt_text.rstrip()
        if tail.endswith(self.start_tag):
            return "open"
        if tail.endswith(self.end_tag):
            return "closed"
        return "neither"

    def begin(self, request: ChatCompletionRequest, prompt_text: str | None = None) -> None:
        self._prompt_text = prompt_text
        self._splitter = ThinkSplitter(self.start_mode(request, prompt_text), self.start_tag, self.end_tag)

    def is_reasoning_end(self, token_ids: Sequence[int]) -> bool:
        if self._end_token_id is False:
            self._end_token_id = self._token_id(self.end_tag)
        return self._end_token_id is not None and self._end_token_id in token_ids

    def extract_reasoning_content(
        self, model_output: str, request: ChatCompletionRequest
    ) -> tuple[str | None, str | None]:
        splitter = ThinkSplitter(self.start_mode(request, self._prompt_text), self.start_tag, self.end_tag)
        reasoning, content = splitter.feed(model_output)
        more_reasoning, more_content = splitter.finish()
        return (reasoning + more_reasoning) or None, (content + more_content) or None

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
        if self._splitter is None:
            self.begin(request, None)
        return _delta(*self._splitter.feed(delta_text))

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> DeltaMessage | None:
        if self._splitter is None:
            self.begin(request, None)
        return _delta(*self._splitter.finish())

    def _token_id(self, token: str) -> int | None:
        tokenizer = self.model_tokenizer
        if tokenizer is None:
            return None
        try:
            token_id = tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and tokenizer.convert_ids_to_tokens(token_id) == token:
                return token_id
        except Exception:
            pass
        return None


@ReasoningParserManager.register_module(["deepseek_r1"])
class DeepSeekR1ReasoningParser(ThinkTagReasoningParser):
    """DeepSeek-R1 and its distills: the output starts inside the reasoning unless told otherwise."""

    def start_mode(self, request: ChatCompletionRequest | None, prompt_text: str | None) -> str:
        if thinking_switched_off(request) or self.prompt_state(prompt_text) == "closed":
            return CONTENT
        return REASONING


@ReasoningParserManager.register_module(["qwen3"])
class Qwen3ReasoningParser(ThinkTagReasoningParser):
    """Qwen3: reasoning when the output opens `<think>`, or the prompt did; `enable_thinking: false` has none."""

    def start_mode(self, request: ChatCompletionRequest | None, prompt_text: str | None) -> str:
        if thinking_switched_off(request):
            return CONTENT
        state = self.prompt_state(prompt_text)
        if state is None:
            return UNDECIDED
        return REASONING if state == "open" else CONTENT


def _delta(reasoning: str, content: str) -> DeltaMessage | None:
    if not reasoning and not content:
        return None
    # tool_calls passed explicitly: model_construct would inspect its default_factory on every call
    return DeltaMessage.model_construct(reasoning_content=reasoning or None, content=content or None, tool_calls=[])
