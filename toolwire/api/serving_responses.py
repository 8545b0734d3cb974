"""POST /v1/responses, GET and DELETE /v1/responses/{id}: OpenAI's Responses API over the chat path.

A request becomes a ChatCompletionRequest (toolwire.api.responses_input) and runs through
`ChatHandler.start`, so validation, the prompt, the tool-call grammar and the output parsing are the
chat completions' own. The run's events go through one ResponseAssembler in both modes: a streamed
response sends the events it makes, a whole one returns the response it built.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from toolwire.api.errors import APIError, stream_failure
from toolwire.api.response_store import ResponseStore, StoredResponse
from toolwire.api.responses_input import chat_request, input_items, responses_param
from toolwire.api.responses_output import ResponseAssembler
from toolwire.api.sampling import drain_watching_client
from toolwire.api.serving_chat import ChatHandler, ChatRun, reasoning_tokens
from toolwire.api.state import ServerState
from toolwire.protocol.responses import FunctionToolChoice, InputItem, ResponsesRequest



class ResponsesHandler:
    def __init__(self, state: ServerState, chat: ChatHandler):
        self.state, self.chat = state, chat
        self.store = ResponseStore(state.responses_store_size)

    async def create(self, body: ResponsesRequest, raw_request: Request) -> Response:
        conversation: list[InputItem] = []
        if body.previous_response_id is not None:
            conversation = self._stored(body.previous_response_id, "previous_response_id").conversation()
        conversation += input_items(body)
        try:
            run = await self.chat.start(chat_request(body, conversation), id_prefix="resp_", prompt_param="input")
        except APIError as exc:
            exc.param = responses_param(exc.param)
            raise
        assembler = ResponseAssembler(self._echo(body, run))
        events = self._events(run, assembler, body.store, conversation)
        if body.stream:
            return StreamingResponse(self._stream(events, run.request_id), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return await self._whole(events, run.request_id, assembler, raw_request)

    def get(self, response_id: str) -> JSONResponse:
        return JSONResponse(self._stored(response_id, "response_id").response)

    def delete(self, response_id: str) -> JSONResponse:
        if not self.store.delete(response_id):
            raise _not_found(response_id, "response_id")
        return JSONResponse({"id": response_id, "object": "response.deleted", "deleted": True})

    def _stored(self, response_id: str, param: str) -> StoredResponse:
        stored = self.store.get(response_id)
        if stored is None:
            raise _not_found(response_id, param)
        return stored

    async def _events(self, run: ChatRun, assembler: ResponseAssembler, store: bool,
                      conversation: list[InputItem]) -> AsyncIterator[dict]:
        """The Responses stream events of a run, from response.created to response.completed; the
        response is stored once complete (not when the client went away)."""
        finish_reason = None
        try:
            for event in assembler.start():
                yield event
            async for chat_event in run.events:
                for event in assembler.add(chat_event.delta):
                    yield event
                finish_reason = chat_event.finish_reason or finish_reason
            for event in assembler.finish(finish_reason, self._usage(run, assembler.reasoning_text)):
                yield event
        finally:
            await run.events.aclose()
        if store and finish_reason != "abort":
            self.store.put(StoredResponse(assembler.response, conversation))

    async def _whole(self, events: AsyncIterator[dict], request_id: str, assembler: ResponseAssembler,
                     raw_request: Request) -> Response:
        await drain_watching_client(events, raw_request, self.state, request_id)
        return JSONResponse(assembler.response)

    async def _stream(self, events: AsyncIterator[dict], request_id: str) -> AsyncIterator[str]:
        sequence = 0
        try:
            async for event in events:
                sequence = event["sequence_number"] + 1
                yield _sse(event)
        except Exception as exc:  # the stream has begun: the error goes in it
            error = stream_failure(exc, f"responses stream {request_id}")
            yield _sse({"type": "error", "sequence_number": sequence, "code": error.code or error.type,
                        "message": error.message, "param": error.param})
        except BaseException:  # the client went away
            self.state.metrics.record_abort()
            raise
        finally:
            await events.aclose()

    def _usage(self, run: ChatRun, reasoning_text: str) -> dict[str, Any]:
        output_tokens = run.completion_tokens
        return {
            "input_tokens": run.num_prompt_tokens,
            "input_tokens_details": {"cached_tokens": run.cached_tokens},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens(self.state, reasoning_text)},
            "total_tokens": run.num_prompt_tokens + output_tokens,
        }

    def _echo(self, body: ResponsesRequest, run: ChatRun) -> dict[str, Any]:
        """The response's fields that repeat the request (as OpenAI returns them)."""
        defaults = self.state.generation_defaults
        text_format = body.text.format.model_dump(by_alias=True, exclude_none=True) \
            if body.text and body.text.format else {"type": "text"}
        tool_choice = body.tool_choice.model_dump() if isinstance(body.tool_choice, FunctionToolChoice) \
            else body.tool_choice
        return {
            "id": run.request_id, "object": "response", "created_at": run.created, "model": self.state.model_name,
            "instructions": body.instructions,
            "tools": [tool.model_dump(exclude_none=True) for tool in body.tools or []],
            "tool_choice": tool_choice or "auto",
            "parallel_tool_calls": run.request.parallel_tool_calls,
            "temperature": _first(body.temperature, defaults.get("temperature"), 1.0),
            "top_p": _first(body.top_p, defaults.get("top_p"), 1.0),
            "max_output_tokens": body.max_output_tokens,
            "text": {"format": text_format},
            "reasoning": {"effort": body.reasoning.effort if body.reasoning else None, "summary": None},
            "previous_response_id": body.previous_response_id,
            "metadata": body.metadata or {},
            "user": body.user,
            "store": body.store,
            "truncation": "disabled",
            "background": False,
        }


def _first(*values):
    return next(value for value in values if value is not None)


def _not_found(response_id: str, param: str) -> APIError:
    return APIError(f"Response with id '{response_id}' not found.", 404, param=param, code="response_not_found")


def _sse(event: dict) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False, separators=(',', ':'))}\n\n"
