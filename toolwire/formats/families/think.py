"""The `<think>` reasoning families: DeepSeek-R1 (`deepseek_r1`) and Qwen3 (`qwen3`).

Both write `<think>…</think>` before the content (see `ThinkSplitter` for how the text is split).
Output that does not open with `<think>` may still begin inside the reasoning, when the opening tag
was in the prompt. Who begins there:

- `deepseek_r1`: always (DeepSeek-R1's template ends the prompt with `<think>\\n`, and older R1s
  skipped the tag but still reasoned), unless thinking is switched off or the prompt is known and
  already closes the reasoning (ends with `</think>`). Without a `</think>` the whole output is
  reasoning.
- `qwen3`: only if the output contains `</think>`. Qwen3 writes `<think>` itself when it thinks; the
  Thinking-2507 models have it in the prompt; with thinking switched off it writes none (the template
  puts an empty `<think></think>` in the prompt). So: thinking switched off -> content; prompt known
  -> reasoning if it ends with `<think>`, else content; prompt unknown -> undecided until `</think>`
  or the end of the output. The server passes the rendered prompt, so undecided is a fallback.

Thinking is switched off by the request's `chat_template_kwargs`: `enable_thinking` or `thinking`
false (the boolean, or the strings "false", "0", "no"). The same rule decides what the parser reads
and whether a constraint leaves room for reasoning.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from toolwire.formats.reasoning import CONTENT, REASONING, UNDECIDED, Reasoning, ReasoningParser, ThinkSplitter
from toolwire.formats.registry import ReasoningParserManager
from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import DeltaMessage


def thinking_switched_off(request: ChatCompletionRequest | None) -> bool:
    """The request's chat_template_kwargs turn thinking off (`enable_thinking` or `thinking` false)."""
    return _thinking_switch(request, False, ("false", "0", "no"))


def thinking_switched_on(request: ChatCompletionRequest | None) -> bool:
    """The request's chat_template_kwargs turn thinking on (`enable_thinking` or `thinking` true)."""
    return _thinking_switch(request, True, ("true", "1", "yes"))


def _thinking_switch(request: ChatCompletionRequest | None, flag: bool, spellings: tuple[str, ...]) -> bool:
    kwargs = (request.chat_template_kwargs if request is not None else None) or {}
    for key in ("enable_thinking", "thinking"):
        value = kwargs.get(key)
        if value is flag or (isinstance(value, str) and value.strip().lower() in spellings):
            return True
    return False


class ThinkTagReasoningParser(ReasoningParser):
    """`<think>…</think>` reasoning; subclasses say where an output without the opening tag begins."""

    reads_full_text = False  # keeps its own state; reads only delta_text (see toolwire.chat.output)

    start_tag = "<think>"  # the spellings a grammar writes, and the one looked up as a token
    end_tag = "</think>"
    start_tags: tuple[str, ...] = ("<think>",)  # every spelling read
    end_tags: tuple[str, ...] = ("</think>",)

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
        if tail.endswith(self.start_tags):
            return "open"
        if tail.endswith(self.end_tags):
            return "closed"
        return "neither"

    def reasoning_region(self, request: ChatCompletionRequest, prompt_text: str | None) -> Reasoning | None:
        if thinking_switched_off(request) or self.prompt_state(prompt_text) == "closed":
            return None
        opened = self.start_mode(request, prompt_text) == REASONING
        return Reasoning(end=self.end_tag, start=self.start_tag, opened_in_prompt=opened, optional=not opened)

    def begin(self, request: ChatCompletionRequest, prompt_text: str | None = None) -> None:
        self._prompt_text = prompt_text
        self._splitter = self.splitter(request, prompt_text)

    def splitter(self, request: ChatCompletionRequest | None, prompt_text: str | None) -> ThinkSplitter:
        """A splitter for one reply."""
        return ThinkSplitter(self.start_mode(request, prompt_text), self.start_tags, self.end_tags)

    def is_reasoning_end(self, token_ids: Sequence[int]) -> bool:
        if self._end_token_id is False:
            self._end_token_id = self._token_id(self.end_tag)
        return self._end_token_id is not None and self._end_token_id in token_ids

    def extract_reasoning_content(
        self, model_output: str, request: ChatCompletionRequest
    ) -> tuple[str | None, str | None]:
        splitter = self.splitter(request, self._prompt_text)
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
        return reasoning_delta(*self._splitter.feed(delta_text))

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> DeltaMessage | None:
        if self._splitter is None:
            self.begin(request, None)
        return reasoning_delta(*self._splitter.finish())

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


class ReasoningFirstParser(ThinkTagReasoningParser):
    """The output starts inside the reasoning unless thinking is switched off or the prompt closed it."""

    def start_mode(self, request: ChatCompletionRequest | None, prompt_text: str | None) -> str:
        if thinking_switched_off(request) or self.prompt_state(prompt_text) == "closed":
            return CONTENT
        return REASONING


@ReasoningParserManager.register_module(["deepseek_r1"])
class DeepSeekR1ReasoningParser(ReasoningFirstParser):
    """DeepSeek-R1 and its distills: the output starts inside the reasoning unless told otherwise."""


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


def reasoning_delta(reasoning: str, content: str) -> DeltaMessage | None:
    if not reasoning and not content:
        return None
    # tool_calls passed explicitly: model_construct would inspect its default_factory on every call
    return DeltaMessage.model_construct(reasoning_content=reasoning or None, content=content or None, tool_calls=[])
