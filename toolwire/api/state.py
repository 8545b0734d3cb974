"""ServerState: everything one server holds (engine, tokenizer, chat template, parsers, limits) and
what the request handlers ask of it. toolwire.startup builds it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from toolwire.api.admission import Admission
from toolwire.api.errors import APIError
from toolwire.api.metrics import Metrics
from toolwire.api.protocol import ChatCompletionRequest, TokenLogprob, TopLogprob
from toolwire.formats.base import ToolParser
from toolwire.formats.family import ToolCallFamily

logger = logging.getLogger("toolwire.serve")

# What a request still running when the shutdown timeout ends is told.
SHUTDOWN_MESSAGE = "the server is shutting down: the request was ended before it finished"


@dataclass
class ServerState:
    engine: Any  # toolwire.engine.async_engine.AsyncEngine
    tokenizer: Any
    model_name: str
    served_names: list[str]
    model_source: str | None
    max_model_len: int
    vocab_size: int | None
    chat_template: Any
    api_key: str | None
    max_request_bytes: int
    # What tool_choice auto constrains: "full" (names and argument schemas), "names" (arguments any
    # JSON object), "off".
    auto_tool_constraint: str
    tool_parser_name: str | None
    tool_parser_class: type[ToolParser] | None
    # The tool parser's family: its grammar, prompt rendering and ids (None: no tool parser).
    tool_family: ToolCallFamily | None
    reasoning_parser_name: str | None = None
    reasoning_parser_class: Any = None
    # Defaults for sampling fields a request leaves unset (--override-generation-config).
    generation_defaults: dict[str, Any] = field(default_factory=dict)
    metrics: Metrics | None = None
    # How many responses /v1/responses keeps for previous_response_id (--responses-store-size).
    responses_store_size: int = 1000
    # The name of the reasoning text in chat completion messages and deltas (--reasoning-field).
    reasoning_field: str = "reasoning_content"
    # Constrained decoding (toolwire.guided.GuidedDecoding) for this tokenizer.
    guided: Any = None
    # Where the chat template came from, and how the parser was chosen, for the startup message.
    chat_template_origin: str = "the model's own"
    tool_parser_origin: str = "--tool-call-parser"
    # Generation requests in flight and whether new ones are admitted (--max-queued-requests, drain).
    admission: Admission | None = None
    # Whether /metrics needs the API key too (--metrics-need-key).
    metrics_need_key: bool = False
    _token_text: dict[int, str] = field(default_factory=dict)
    _longest_token_chars: int | None = None

    def __post_init__(self) -> None:
        if self.metrics is None:
            self.metrics = Metrics(self.model_name)
        if self.admission is None:
            self.admission = Admission(self.engine.engine.config.max_num_seqs, max_queued=None)

    # -- lifecycle ---------------------------------------------------------------------------------

    def healthy(self) -> bool:
        """False once shutdown has begun, so that load balancers send no more requests."""
        thread = getattr(self.engine, "_thread", None)
        return not self.admission.closed and (thread is None or thread.is_alive())

    async def drain(self, timeout: float) -> None:
        """Refuse new generation requests, give those in flight `timeout` seconds to finish, then
        end the rest: each gets finish_reason "abort" and the SHUTDOWN_MESSAGE error."""
        self.admission.close()
        if await self.admission.wait_idle(timeout):
            return
        logger.warning("%d request(s) still running %.3g s after shutdown began: ending them",
                       self.admission.in_flight, timeout)
        self.engine.abort_all(SHUTDOWN_MESSAGE)

    async def shutdown(self) -> None:
        if self.guided is not None:
            self.guided.shutdown()
        await asyncio.to_thread(self.engine.shutdown)

    async def engine_stats(self) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(self.engine.get_stats(), timeout=5)
        except (asyncio.TimeoutError, RuntimeError):
            return {}

    # -- tokens ------------------------------------------------------------------------------------

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=add_special_tokens))

    def decode(self, token_ids: list[int]) -> str:
        return self.tokenizer.decode(token_ids, skip_special_tokens=False)

    def prompt_ids(self, text: str, param: str, add_special_tokens: bool = False) -> list[int]:
        """The token ids of a generation prompt. A text longer than the context could hold at the
        longest token's length per token is refused untokenized: tokenizing megabytes costs seconds
        of CPU for an answer known in advance. (The bound holds for a tokenizer whose normalizer
        does not delete text.)"""
        if self._longest_token_chars is None:
            self._longest_token_chars = max(map(len, self.tokenizer.get_vocab()), default=1)
        if len(text) > self.max_model_len * self._longest_token_chars:
            raise APIError(
                f"This model's maximum context length is {self.max_model_len} tokens. However, your prompt has "
                f"{len(text)} characters, more than {self.max_model_len} tokens can hold (a token is at most "
                f"{self._longest_token_chars} characters). Please shorten the prompt.",
                400, param=param, code="context_length_exceeded")
        return self.encode(text, add_special_tokens)

    def token_text(self, token_id: int) -> str:
        text = self._token_text.get(token_id)
        if text is None:
            text = self._token_text[token_id] = self.tokenizer.decode([token_id], skip_special_tokens=False)
        return text

    def logprob_decoder(self, top_n: int):
        """A function from the engine's TokenLogprobs to OpenAI's chat logprob entries."""

        def entry(token_id: int, logprob: float) -> dict:
            text = self.token_text(token_id)
            return {"token": text, "logprob": max(logprob, -9999.0), "bytes": list(text.encode("utf-8"))}

        def decode(items) -> list[TokenLogprob] | None:
            if not items:
                return None
            return [TokenLogprob(**entry(item.token_id, item.logprob),
                                 top_logprobs=[TopLogprob(**entry(t, lp)) for t, lp in item.top_logprobs[:top_n]])
                    for item in items]

        return decode

    def check_engine_request(self, prompt_ids: list[int], params) -> None:
        try:
            self.engine.engine.validate_request(prompt_ids, params)
        except ValueError as exc:
            raise APIError(str(exc), 400) from None

    # -- chat --------------------------------------------------------------------------------------

    def render_chat(self, messages, tools, add_generation_prompt: bool = True,
                    chat_template_kwargs: dict | None = None, continue_final_message: bool = False) -> str:
        """The rendered prompt."""
        from toolwire.chat.prompt import render_prompt
        from toolwire.chat.rendering import PromptError, special_tokens_of

        try:
            prompt = render_prompt(
                messages, self.chat_template, tools=tools, family=self.tool_family,
                add_generation_prompt=add_generation_prompt, continue_final_message=continue_final_message,
                chat_template_kwargs=chat_template_kwargs, special_tokens=special_tokens_of(self.tokenizer))
        except PromptError as exc:
            raise APIError(str(exc), 400, param="messages", code="invalid_prompt") from None
        return prompt

    def render_chat_ids(self, messages, tools, add_generation_prompt: bool = True,
                        chat_template_kwargs: dict | None = None) -> list[int]:
        return self.encode(self.render_chat(messages, tools, add_generation_prompt, chat_template_kwargs))

    def chat_prompt(self, request: ChatCompletionRequest, param: str = "messages") -> tuple[str, list[int]]:
        """A chat request's prompt and its token ids (`param` names the conversation's field).
        Slow for a large conversation: handlers run it off the event loop."""
        # With tool_choice "none" the model is not told about the tools at all.
        tools = request.tools if request.tools and request.effective_tool_choice != "none" else None
        prompt = self.render_chat(request.messages, tools, request.add_generation_prompt,
                                  request.chat_template_kwargs, request.continue_final_message)
        return prompt, self.prompt_ids(prompt, param)

    # -- constrained decoding ----------------------------------------------------------------------

    async def chat_constraint(self, request: ChatCompletionRequest, prompt_text: str):
        """The compiled constraint the reply is held to (tool calls in the parser's format,
        response_format, guided_*), or None. Compiles on the grammar thread pool: the engine and
        other requests go on meanwhile. A spec that cannot be built or compiled is a 400."""
        from toolwire.guided import GuidedDecodingError, spec_from_request

        reasoning = (self.reasoning_parser_class(self.tokenizer).reasoning_region(request, prompt_text)
                     if self.reasoning_parser_class else None)
        try:
            spec = spec_from_request(
                request, self.tool_family, reasoning=reasoning,
                constrain_auto=self.auto_tool_constraint != "off",
                enforce_auto_arguments=self.auto_tool_constraint == "full")
        except GuidedDecodingError as exc:
            raise _guided_error(exc) from None
        return await self._compile(spec)

    async def text_constraint(self, request):
        """The constraint of a text completion (response_format / guided_*), or None."""
        from toolwire.guided import GuidedDecodingError, text_spec

        try:
            spec = text_spec(request)
        except GuidedDecodingError as exc:
            raise _guided_error(exc) from None
        return await self._compile(spec)

    async def _compile(self, spec):
        from toolwire.guided import GuidedDecodingError

        if spec is None:
            return None
        if self.guided is None:
            raise APIError("this server was started without constrained decoding", 400,
                           param="tool_choice", code="unsupported")
        try:
            return await self.guided.compile_async(spec)
        except GuidedDecodingError as exc:
            raise _guided_error(exc) from None

    def new_tool_parser(self) -> ToolParser | None:
        return self.tool_parser_class(self.tokenizer) if self.tool_parser_class else None

    def adjust_for_reasoning(self, request: ChatCompletionRequest) -> ChatCompletionRequest:
        """The request as the reasoning parser needs it (e.g. special tokens kept where they split channels)."""
        if self.reasoning_parser_class is None:
            return request
        return self.reasoning_parser_class(self.tokenizer).adjust_request(request)

    def output_pipeline(self, request: ChatCompletionRequest, tool_parser: ToolParser | None,
                        prompt_text: str | None):
        from toolwire.chat.output import ChoiceOutputParser

        reasoning = self.reasoning_parser_class(self.tokenizer) if self.reasoning_parser_class else None
        return ChoiceOutputParser(request, reasoning_parser=reasoning, tool_parser=tool_parser,
                                  prompt_text=prompt_text, parse_tools=tool_parser is not None)

    def describe(self) -> str:
        parser = (f"{self.tool_parser_name} ({self.tool_parser_origin})" if self.tool_parser_name
                  else "none (requests with tools are refused)")
        return (f"model {self.model_source or self.model_name} served as {', '.join(self.served_names)}; "
                f"context {self.max_model_len} tokens; chat template: {self.chat_template_origin}; "
                f"tool-call parser: {parser}; reasoning parser: {self.reasoning_parser_name or 'none'}; "
                f"constrained decoding: {self.guided.backend.name if self.guided else 'off'} "
                f"(tool_choice auto: {self.auto_tool_constraint})")


def _guided_error(exc) -> APIError:
    return APIError(str(exc), 400, param=exc.param, code="invalid_tool_schema" if exc.tool else None)
