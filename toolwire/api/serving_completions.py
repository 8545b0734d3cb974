"""POST /v1/completions: plain text completion of one prompt or several (text or token ids)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from toolwire.api.errors import APIError, stream_failure
from toolwire.api.protocol import CompletionLogprobs, CompletionRequest, UsageInfo, random_id
from toolwire.api.sampling import build_sampling_params, raise_for_failure, raise_if_shut_down, watch_disconnect
from toolwire.api.serving_chat import stream_error_event
from toolwire.api.sse import DONE, sse_event
from toolwire.api.state import ServerState
from toolwire.api.validation import (
    check_completion_request,
    check_length,
    check_model,
    check_room_for_output,
    check_sampling,
)



def _prompts(request: CompletionRequest) -> list[str | list[int]]:
    prompt = request.prompt
    if isinstance(prompt, str):
        return [prompt]
    if not prompt:
        raise APIError("prompt must not be empty", 400, param="prompt")
    if all(isinstance(p, int) for p in prompt):
        return [list(prompt)]
    return list(prompt)


class _LogprobBuilder:
    """OpenAI's legacy completion logprobs: parallel lists of tokens, logprobs, offsets and top-k dicts."""

    def __init__(self, state: ServerState, offset: int):
        self.state, self.offset = state, offset
        self.result = CompletionLogprobs()

    def add(self, entries) -> CompletionLogprobs:
        part = CompletionLogprobs()
        for entry in entries or []:
            token = self.state.token_text(entry.token_id)
            part.tokens.append(token)
            part.token_logprobs.append(entry.logprob)
            part.top_logprobs.append({self.state.token_text(t): lp for t, lp in entry.top_logprobs})
            part.text_offset.append(self.offset)
            self.offset += len(token)
        for name in ("tokens", "token_logprobs", "top_logprobs", "text_offset"):
            getattr(self.result, name).extend(getattr(part, name))
        return part


class CompletionHandler:
    def __init__(self, state: ServerState):
        self.state = state

    async def create(self, request: CompletionRequest, raw_request: Request) -> Response:
        state = self.state
        check_model(request.model, state.served_names)
        check_completion_request(request)
        check_sampling(request, state.vocab_size)
        constraint = await state.text_constraint(request)
        prompts = []
        for i, prompt in enumerate(_prompts(request)):
            if isinstance(prompt, str):
                ids = await asyncio.to_thread(state.prompt_ids, prompt, "prompt", True)  # off the event loop
                text = prompt
            elif isinstance(prompt, list) and all(isinstance(t, int) for t in prompt):
                ids, text = list(prompt), None
            else:
                raise APIError("prompt must be a string, a list of strings, or token ids", 400, param="prompt")
            if not ids:
                raise APIError(f"prompt {i} is empty", 400, param="prompt")
            max_tokens = check_length(len(ids), request.max_tokens or state.generation_defaults.get("max_tokens")
                                      or 16, state.max_model_len, "prompt")
            params = build_sampling_params(request, max_tokens, state, logprobs=request.logprobs)
            params.constraint_factory = constraint
            check_room_for_output(constraint, max_tokens)
            state.check_engine_request(ids, params)
            prompts.append((ids, text, params))

        request_id = random_id("cmpl-")
        created = int(time.time())
        events = self._events(prompts, request_id, request.n)
        if request.stream:
            return StreamingResponse(self._stream(events, request, prompts, request_id, created),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        return await self._full(events, raw_request, request, prompts, request_id, created)

    async def _events(self, prompts, request_id: str, n: int) -> AsyncIterator[tuple[int, Any]]:
        """(choice index, RequestOutput) from every prompt's generation, as they come."""
        queue: asyncio.Queue = asyncio.Queue()
        engine = self.state.engine

        async def pump(p: int, ids: list[int], params) -> None:
            output = None
            try:
                async for output in engine.generate(ids, params, f"{request_id}-{p}"):
                    raise_for_failure(output)
                    await queue.put((p * n + output.index, output))
                raise_if_shut_down(self.state, output)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                await queue.put(exc)
                return
            await queue.put(None)

        tasks = [asyncio.create_task(pump(p, ids, params)) for p, (ids, _, params) in enumerate(prompts)]
        remaining = len(tasks)
        try:
            while remaining:
                item = await queue.get()
                if item is None:
                    remaining -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
        finally:
            for task in tasks:
                task.cancel()
            for p in range(len(prompts)):
                engine.abort(f"{request_id}-{p}")

    def _usage(self, prompts, outputs: dict[int, Any], n: int) -> UsageInfo:
        prompt_tokens = sum(len(ids) for ids, _, _ in prompts)
        completion = sum(o.num_completion_tokens for o in outputs.values())
        self.state.metrics.record_usage(prompt_tokens, completion)
        return UsageInfo(prompt_tokens=prompt_tokens, completion_tokens=completion,
                         total_tokens=prompt_tokens + completion)

    def _echo_text(self, prompts, index: int, n: int) -> str:
        ids, text, _ = prompts[index // n]
        return text if text is not None else self.state.decode(ids)

    async def _full(self, events, raw_request: Request, request: CompletionRequest, prompts, request_id: str,
                    created: int) -> Response:
        n = request.n
        texts: dict[int, str] = {}
        last: dict[int, Any] = {}
        logprobs: dict[int, _LogprobBuilder] = {}
        gone = asyncio.Event()

        def abort_all() -> None:
            for p in range(len(prompts)):
                self.state.engine.abort(f"{request_id}-{p}")

        watcher = asyncio.create_task(watch_disconnect(raw_request, gone, abort_all))
        try:
            async for index, output in events:
                if index not in texts:
                    texts[index] = self._echo_text(prompts, index, n) if request.echo else ""
                    logprobs[index] = _LogprobBuilder(self.state, len(texts[index]))
                texts[index] += output.new_text
                last[index] = output
                if request.logprobs is not None:
                    logprobs[index].add(output.logprobs)
        finally:
            watcher.cancel()
            await events.aclose()
        if gone.is_set():
            raise APIError("client disconnected", 499, type="client_closed_request")
        choices = [{
            "index": i, "text": texts[i],
            "logprobs": logprobs[i].result.model_dump() if request.logprobs is not None else None,
            "finish_reason": last[i].finish_reason, "stop_reason": last[i].stop_reason,
        } for i in sorted(texts)]
        return JSONResponse({"id": request_id, "object": "text_completion", "created": created,
                             "model": self.state.model_name, "choices": choices,
                             "usage": self._usage(prompts, last, n).model_dump()})

    async def _stream(self, events, request: CompletionRequest, prompts, request_id: str,
                      created: int) -> AsyncIterator[str]:
        n = request.n
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        last: dict[int, Any] = {}
        logprobs: dict[int, _LogprobBuilder] = {}

        def chunk(choices: list[dict], usage: UsageInfo | None = None) -> str:
            body: dict[str, Any] = {"id": request_id, "object": "text_completion", "created": created,
                                    "model": self.state.model_name, "choices": choices}
            if include_usage:
                body["usage"] = usage.model_dump() if usage else None
            return sse_event(json.dumps(body, ensure_ascii=False))

        try:
            async for index, output in events:
                text = output.new_text
                if index not in last:
                    prefix = self._echo_text(prompts, index, n) if request.echo else ""
                    logprobs[index] = _LogprobBuilder(self.state, len(prefix))
                    text = prefix + text
                last[index] = output
                part = logprobs[index].add(output.logprobs) if request.logprobs is not None else None
                if not text and not output.finished and part is None:
                    continue
                yield chunk([{"index": index, "text": text,
                              "logprobs": part.model_dump() if part is not None else None,
                              "finish_reason": output.finish_reason, "stop_reason": output.stop_reason}])
            if include_usage:
                yield chunk([], self._usage(prompts, last, n))
            else:
                self._usage(prompts, last, n)
            yield DONE
        except Exception as exc:  # the stream has begun: the error goes in it
            yield stream_error_event(stream_failure(exc, f"completion stream {request_id}"))
            yield DONE
        finally:
            await events.aclose()
