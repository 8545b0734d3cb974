"""POST /v1/chat/completions.

One path for both modes: the engine's outputs go through each choice's output pipeline (reasoning
split, tool-call parsing) and then through ChoiceStream (tool_choice rules, content tidying,
logprobs) which yields deltas. Streaming sends each delta as an SSE chunk; non-streaming joins the
same deltas into the message. The two modes therefore cannot disagree.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from toolwire.api.protocol import ChatCompletionRequest, DeltaMessage, TokenLogprob, UsageInfo, random_id
from toolwire.api.errors import APIError, stream_failure
from toolwire.api.sampling import build_sampling_params, drain_watching_client, raise_for_failure, raise_if_shut_down
from toolwire.api.sse import DONE, sse_event
from toolwire.api.state import ServerState
from toolwire.api.validation import check_length, check_model, check_room_for_output, check_sampling, check_tools
from toolwire.chat.choice_stream import ChoiceEvent, ChoiceStream
from toolwire.chat.output import ChoiceAccumulator
from toolwire.chat.tool_choice import ToolChoiceFilter
from toolwire.protocol.chat import ChatUsageInfo, CompletionTokensDetails, PromptTokensDetails



@dataclass
class ChatRun:
    """One chat request on its way: the request as the parser adjusted it, its choices, and their
    events (deltas, logprobs, finish reasons) as the engine produces them. Every API that speaks chat
    (chat completions, Responses, Anthropic Messages) formats the same events its own way."""

    request: ChatCompletionRequest
    request_id: str
    created: int
    prompt_text: str
    num_prompt_tokens: int
    choices: list[ChoiceStream]
    events: AsyncIterator[ChoiceEvent]

    @property
    def completion_tokens(self) -> int:
        return sum(choice.completion_tokens for choice in self.choices)

    @property
    def cached_tokens(self) -> int:
        return max((choice.cached_tokens for choice in self.choices), default=0)


class ChatHandler:
    def __init__(self, state: ServerState):
        self.state = state

    async def start(self, request: ChatCompletionRequest, id_prefix: str = "chatcmpl-",
                    prompt_param: str = "messages") -> ChatRun:
        """Validates the request, renders its prompt, builds its constraint and starts generating.
        Raises APIError (a 4xx) for anything the request got wrong; `prompt_param` names the field
        that holds the conversation in the caller's API."""
        state = self.state
        arrival = time.perf_counter()
        prompt_text, prompt_ids = await asyncio.to_thread(self._checked_prompt, request, prompt_param)
        request, choices = self._choices(request, prompt_text)
        max_tokens = check_length(len(prompt_ids), request.max_new_tokens or state.generation_defaults.get(
            "max_tokens"), state.max_model_len, prompt_param)
        params = build_sampling_params(request, max_tokens, state, logprobs=(
            (request.top_logprobs or 0) if request.logprobs else None))
        state.check_engine_request(prompt_ids, params)
        params.constraint_factory = await state.chat_constraint(request, prompt_text)
        await asyncio.to_thread(check_room_for_output, params.constraint_factory, max_tokens)
        request_id = random_id(id_prefix)
        events = self._events(prompt_ids, params, request_id, choices, arrival)
        return ChatRun(request, request_id, int(time.time()), prompt_text, len(prompt_ids), choices, events)

    def _checked_prompt(self, request: ChatCompletionRequest, prompt_param: str) -> tuple[str, list[int]]:
        """The checks, then the prompt: the work whose cost grows with the request (tool schemas,
        template rendering, tokenizing), so start() runs it on a worker thread."""
        state = self.state
        check_model(request.model, state.served_names)
        check_tools(request, state.tool_parser_class is not None)
        check_sampling(request, state.vocab_size)
        return state.chat_prompt(request, prompt_param)

    async def create(self, request: ChatCompletionRequest, raw_request: Request) -> Response:
        run = await self.start(request)
        if run.request.stream:
            return StreamingResponse(
                self._stream(run), media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return await self._full(run, raw_request)

    def _choices(self, request: ChatCompletionRequest,
                 prompt_text: str | None) -> tuple[ChatCompletionRequest, list[ChoiceStream]]:
        """One pipeline and parser instance per choice; the parser may adjust the request first."""
        use_tools = bool(request.tools) and request.effective_tool_choice != "none"
        parsers = [self.state.new_tool_parser() if use_tools else None for _ in range(request.n)]
        if parsers[0] is not None:
            request = parsers[0].adjust_request(request)
        request = self.state.adjust_for_reasoning(request)
        decoder = self.state.logprob_decoder(request.top_logprobs or 0)
        choices = [ChoiceStream(i, self.state.output_pipeline(request, parser, prompt_text),
                                ToolChoiceFilter(request.named_tool, request.parallel_tool_calls), decoder)
                   for i, parser in enumerate(parsers)]
        return request, choices

    async def _events(self, prompt_ids: list[int], params, request_id: str, choices: list[ChoiceStream],
                      arrival: float) -> AsyncIterator[ChoiceEvent]:
        first, output = True, None
        generator = self.state.engine.generate(prompt_ids, params, request_id)
        try:
            async for output in generator:
                raise_for_failure(output)
                if first:
                    first = False
                    self.state.metrics.record_first_token(time.perf_counter() - arrival)
                event = choices[output.index].step(output)
                if event is None:
                    continue
                if event.finish_reason is not None:
                    self.state.metrics.record_finish(event.finish_reason, choices[output.index].tool_filter.kept)
                yield event
                if all(choice.ended for choice in choices):
                    break  # closing the generator aborts whatever the engine still runs for the request
        finally:
            await generator.aclose()
            self.state.metrics.record_usage(len(prompt_ids), sum(c.completion_tokens for c in choices),
                                            max((c.cached_tokens for c in choices), default=0))
        raise_if_shut_down(self.state, output)

    async def _full(self, run: ChatRun, raw_request: Request) -> Response:
        request, choices = run.request, run.choices
        accumulators = [ChoiceAccumulator() for _ in choices]
        logprobs: list[list[TokenLogprob]] = [[] for _ in choices]
        finish: list[ChoiceEvent | None] = [None for _ in choices]

        def take(event: ChoiceEvent) -> None:
            accumulators[event.index].add(event.delta)
            logprobs[event.index].extend(event.logprobs or [])
            if event.finish_reason is not None:
                finish[event.index] = event

        await drain_watching_client(run.events, raw_request, self.state, run.request_id, take)

        body_choices = []
        for choice, accumulator in zip(choices, accumulators):
            parsed = accumulator.result()
            message: dict[str, Any] = {
                "role": "assistant",
                # null when the reply is only tool calls (or only reasoning), as OpenAI does
                "content": parsed.content if parsed.content or parsed.tool_calls or parsed.reasoning_content
                else "",
                self.state.reasoning_field: parsed.reasoning_content,
            }
            if parsed.tool_calls:
                message["tool_calls"] = [call.model_dump() for call in parsed.tool_calls]
            end = finish[choice.index]
            body_choices.append({
                "index": choice.index,
                "message": message,
                "logprobs": {"content": [lp.model_dump() for lp in logprobs[choice.index]]}
                if request.logprobs else None,
                "finish_reason": end.finish_reason if end else "abort",
                "stop_reason": end.stop_reason if end else None,
            })
        usage = self._usage(run, [a.result().reasoning_content for a in accumulators])
        return JSONResponse({
            "id": run.request_id, "object": "chat.completion", "created": run.created, "model": self.state.model_name,
            "choices": body_choices, "usage": usage.model_dump(), "system_fingerprint": None,
        })

    def _usage(self, run: ChatRun, reasoning_texts: list[str | None]) -> ChatUsageInfo:
        """The whole reply's usage, with cached prompt tokens and reasoning tokens."""
        return ChatUsageInfo(
            prompt_tokens=run.num_prompt_tokens, completion_tokens=run.completion_tokens,
            total_tokens=run.num_prompt_tokens + run.completion_tokens,
            prompt_tokens_details=PromptTokensDetails(cached_tokens=run.cached_tokens),
            completion_tokens_details=CompletionTokensDetails(
                reasoning_tokens=sum(reasoning_tokens(self.state, text) for text in reasoning_texts)))

    async def _stream(self, run: ChatRun) -> AsyncIterator[str]:
        request, request_id, choices, events = run.request, run.request_id, run.choices, run.events
        num_prompt_tokens, created, model_name = run.num_prompt_tokens, run.created, self.state.model_name
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        continuous = bool(include_usage and request.stream_options.continuous_usage_stats)

        def chunk(choice_payloads: list[dict], usage: UsageInfo | None = None) -> str:
            body: dict[str, Any] = {"id": request_id, "object": "chat.completion.chunk", "created": created,
                                    "model": model_name, "choices": choice_payloads}
            if include_usage:
                body["usage"] = usage.model_dump() if usage is not None else None
            return sse_event(_json(body))

        def usage_now() -> UsageInfo:
            return UsageInfo(prompt_tokens=num_prompt_tokens, completion_tokens=run.completion_tokens,
                             total_tokens=num_prompt_tokens + run.completion_tokens)

        pending_logprobs: dict[int, list[TokenLogprob]] = {c.index: [] for c in choices}
        reasoning: dict[int, list[str]] = {c.index: [] for c in choices}
        try:
            for choice in choices:
                yield chunk([{"index": choice.index, "delta": {"role": "assistant", "content": ""},
                              "logprobs": None, "finish_reason": None}], UsageInfo(
                    prompt_tokens=num_prompt_tokens, total_tokens=num_prompt_tokens) if continuous else None)
            async for event in events:
                if event.logprobs:
                    pending_logprobs[event.index].extend(event.logprobs)
                if event.delta is None and event.finish_reason is None:
                    continue
                if event.delta is not None and event.delta.reasoning_content:
                    reasoning[event.index].append(event.delta.reasoning_content)
                payload: dict[str, Any] = {"index": event.index,
                                           "delta": _delta_json(event.delta, self.state.reasoning_field),
                                           "logprobs": None, "finish_reason": event.finish_reason}
                if request.logprobs:
                    payload["logprobs"] = {"content": [lp.model_dump() for lp in pending_logprobs[event.index]]}
                    pending_logprobs[event.index] = []
                if event.finish_reason is not None:
                    payload["stop_reason"] = event.stop_reason
                yield chunk([payload], usage_now() if continuous else None)
            if include_usage:
                yield chunk([], self._usage(run, ["".join(r) for r in reasoning.values()]))
            yield DONE
        except Exception as exc:  # the stream has begun: the error goes in it, as OpenAI's streams do
            yield stream_error_event(stream_failure(exc, f"chat stream {request_id}"))
            yield DONE
        except BaseException:  # the client went away (cancelled, or the generator closed)
            self.state.metrics.record_abort()
            raise
        finally:
            await events.aclose()


def stream_error_event(error: APIError) -> str:
    """The SSE event that ends a stream that failed after it began, in OpenAI's error shape."""
    return sse_event(_json(error.to_response().model_dump()))


def reasoning_tokens(state: ServerState, text: str | None) -> int:
    """The tokens of a reply's reasoning text (its text re-tokenized: the engine does not tell
    reasoning tokens apart)."""
    return len(state.encode(text)) if text else 0


def _delta_json(delta: DeltaMessage | None, reasoning_field: str = "reasoning_content") -> dict:
    if delta is None:
        return {}
    out: dict[str, Any] = {}
    if delta.role:
        out["role"] = delta.role
    if delta.content:
        out["content"] = delta.content
    if delta.reasoning_content:
        out[reasoning_field] = delta.reasoning_content
    if delta.tool_calls:
        out["tool_calls"] = [call.model_dump(exclude_none=True) for call in delta.tool_calls]
    return out


def _json(body: dict) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
