"""POST /v1/messages and /v1/messages/count_tokens: Anthropic's Messages API over the chat layer.

The request becomes a ChatCompletionRequest (messages_input), which `ChatHandler.start` validates,
renders, constrains and runs; its events become Anthropic stream events (messages_output). A
streamed reply sends those events as SSE; a whole one folds the same events into the message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from toolwire.api.errors import stream_failure
from toolwire.api.messages_input import chat_request
from toolwire.api.messages_output import MessageAssembler, MessageEvents
from toolwire.api.sampling import drain_watching_client
from toolwire.api.serving_chat import ChatHandler, ChatRun
from toolwire.api.state import ServerState
from toolwire.api.validation import check_model, check_tools
from toolwire.protocol.anthropic import CountTokensRequest, MessagesRequest



class MessagesHandler:
    def __init__(self, state: ServerState, chat: ChatHandler):
        self.state, self.chat = state, chat

    async def create(self, request: MessagesRequest, raw_request: Request) -> Response:
        run = await self.chat.start(chat_request(request), id_prefix="msg_", prompt_param="messages")
        events = self._events(run, request)
        if request.stream:
            return StreamingResponse(self._sse(events, run.request_id), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return await self._whole(events, run, raw_request)

    async def count_tokens(self, request: CountTokensRequest) -> dict:
        chat = chat_request(request)
        check_model(chat.model, self.state.served_names)
        _, prompt_ids = await asyncio.to_thread(self._prompt, chat)
        return {"input_tokens": len(prompt_ids)}

    def _prompt(self, chat) -> tuple[str, list[int]]:
        """Slow for a large conversation: run off the event loop."""
        check_tools(chat, self.state.tool_parser_class is not None)
        return self.state.chat_prompt(chat)

    async def _events(self, run: ChatRun, request: MessagesRequest) -> AsyncIterator[dict]:
        reply = MessageEvents(run.request_id, request.model, request.stop_sequences or [])
        try:
            async for event in run.events:
                for out in reply.start(self._usage(run)) + reply.add(event):
                    yield out
            final = {**self._usage(run), "output_tokens": run.completion_tokens}
            for out in reply.start(self._usage(run)) + reply.end(final):
                yield out
        finally:
            await run.events.aclose()

    @staticmethod
    def _usage(run: ChatRun) -> dict[str, int]:
        """Anthropic's split: input_tokens are the prompt tokens not read from the prefix cache."""
        cached = min(run.cached_tokens, run.num_prompt_tokens)
        return {"input_tokens": run.num_prompt_tokens - cached, "cache_read_input_tokens": cached,
                "cache_creation_input_tokens": 0}

    async def _whole(self, events: AsyncIterator[dict], run: ChatRun, raw_request: Request) -> Response:
        assembler = MessageAssembler()
        await drain_watching_client(events, raw_request, self.state, run.request_id, assembler.add)
        return JSONResponse(assembler.message)

    async def _sse(self, events: AsyncIterator[dict], request_id: str) -> AsyncIterator[str]:
        try:
            async for event in events:
                yield _sse(event)
        except Exception as exc:  # the stream has begun: the error goes in it, as Anthropic's streams do
            yield _sse(stream_failure(exc, f"messages stream {request_id}").to_anthropic())
        except BaseException:  # the client went away
            self.state.metrics.record_abort()
            raise
        finally:
            await events.aclose()


def _sse(event: dict) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False, separators=(',', ':'))}\n\n"
