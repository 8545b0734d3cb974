"""More `<think>` reasoning families, each deciding differently where an output without the opening
tag begins (see think.py for the rules they share, and `ThinkSplitter` for how text is split):

- `glm45` (GLM-4.5 / 4.6): as Qwen3. The model writes `<think>` itself when it thinks; with
  `enable_thinking: false` the template puts `<think></think>` in the prompt and the reply is content.
- `kimi_k2` (Kimi K2 Thinking): the output starts inside the reasoning (the model opens it with
  `<think>`, which may be missing), unless `thinking: false` or the prompt closes it. Kimi K2 writes
  `<think>…</think>`; the `◁think▷…◁/think▷` of Kimi's earlier thinking models is read too.
- `minimax_m2`: the template ends the prompt with `<think>\\n`, so the output starts inside the
  reasoning, up to `</think>`.
- `minimax_m2_append_think`: the same model, its reply kept whole as content, the `<think>` of
  the prompt put back in front (for clients that show the thinking inline); nothing is
  reasoning_content. The grammar still applies after `</think>`.
- `deepseek_v3` (DeepSeek V3.1+ hybrid thinking): reasoning only when `thinking` (or
  `enable_thinking`) is true in chat_template_kwargs, or the prompt opens it; otherwise the whole
  reply is content, tags and all.

Names: vLLM's, then SGLang's where it differs (`minimax`, `minimax-append-think`, `deepseek-v3`).
A tool call written inside the reasoning is still a call (toolwire.chat.output runs the reasoning
through the tool parser), for every one of these.
"""

from __future__ import annotations

from collections.abc import Sequence

from toolwire.formats.families.think import (
    Qwen3ReasoningParser, ReasoningFirstParser, reasoning_delta, thinking_switched_off, thinking_switched_on,
)
from toolwire.formats.reasoning import CONTENT, ThinkSplitter
from toolwire.formats.registry import ReasoningParserManager
from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import DeltaMessage


@ReasoningParserManager.register_module(["glm45"])
class Glm45ReasoningParser(Qwen3ReasoningParser):
    """GLM-4.5 / 4.6: reasoning when the output opens `<think>`, or the prompt did."""


@ReasoningParserManager.register_module(["kimi_k2"])
class KimiK2ReasoningParser(ReasoningFirstParser):
    """Kimi K2 Thinking: `<think>…</think>` first, the opening tag optional."""

    start_tags = ("<think>", "◁think▷")
    end_tags = ("</think>", "◁/think▷")


@ReasoningParserManager.register_module(["minimax_m2", "minimax"])
class MiniMaxM2ReasoningParser(ReasoningFirstParser):
    """MiniMax M2: the prompt opens `<think>`; the reasoning runs to `</think>`."""


@ReasoningParserManager.register_module(["minimax_m2_append_think", "minimax-append-think"])
class MiniMaxM2AppendThinkReasoningParser(MiniMaxM2ReasoningParser):
    """MiniMax M2 with its reply as content, `<think>` included: the prompt's `<think>` is put in
    front of the reply, unless the prompt is known and did not open one."""

    def __init__(self, tokenizer=None):
        super().__init__(tokenizer)
        self._prefix: str | None = None  # None: not yet sent

    def begin(self, request: ChatCompletionRequest, prompt_text: str | None = None) -> None:
        super().begin(request, prompt_text)
        self._prefix = None

    def _opening(self) -> str:
        return self.start_tag if self.prompt_state(self._prompt_text) in (None, "open") else ""

    def extract_reasoning_content(
        self, model_output: str, request: ChatCompletionRequest
    ) -> tuple[str | None, str | None]:
        return None, (self._opening() + model_output) or None

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
        return reasoning_delta("", self._take_opening() + delta_text)

    def finish_streaming(self, current_text: str, request: ChatCompletionRequest) -> DeltaMessage | None:
        return reasoning_delta("", self._take_opening())

    def _take_opening(self) -> str:
        if self._prefix is not None:
            return ""
        self._prefix = self._opening()
        return self._prefix


@ReasoningParserManager.register_module(["deepseek_v3", "deepseek-v3"])
class DeepSeekV3ReasoningParser(ReasoningFirstParser):
    """DeepSeek V3.1+: thinking is off unless chat_template_kwargs switch it on (or the prompt opens it)."""

    def thinking(self, request: ChatCompletionRequest | None, prompt_text: str | None) -> bool:
        if thinking_switched_off(request):
            return False
        return thinking_switched_on(request) or self.prompt_state(prompt_text) == "open"

    def start_mode(self, request: ChatCompletionRequest | None, prompt_text: str | None) -> str:
        return super().start_mode(request, prompt_text) if self.thinking(request, prompt_text) else CONTENT

    def splitter(self, request: ChatCompletionRequest | None, prompt_text: str | None) -> ThinkSplitter:
        if not self.thinking(request, prompt_text):
            return ThinkSplitter(CONTENT, (), ())  # no reasoning at all: the reply as it is
        return super().splitter(request, prompt_text)

    def reasoning_region(self, request: ChatCompletionRequest, prompt_text: str | None):
        return super().reasoning_region(request, prompt_text) if self.thinking(request, prompt_text) else None
