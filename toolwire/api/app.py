"""The FastAPI app: routes, middleware and error handlers around one ServerState."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

import toolwire
from toolwire.api.admission import AdmissionMiddleware
from toolwire.api.errors import APIError, install_error_handlers
from toolwire.api.middleware import APIKeyMiddleware, BodySizeLimitMiddleware, UnexpectedErrorMiddleware
from toolwire.api.protocol import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    CompletionRequest,
    CompletionResponse,
    DetokenizeRequest,
    DetokenizeResponse,
    ErrorResponse,
    ModelCard,
    ModelList,
    TokenizeRequest,
    TokenizeResponse,
)
from toolwire.api.serving_chat import ChatHandler
from toolwire.api.serving_completions import CompletionHandler
from toolwire.api.serving_messages import MessagesHandler
from toolwire.api.serving_responses import ResponsesHandler
from toolwire.api.serving_tokens import TokenHandler
from toolwire.api.state import ServerState
from toolwire.api.validation import check_model
from toolwire.protocol.anthropic import CountTokensRequest, MessagesRequest
from toolwire.protocol.responses import DeletedResponse, ResponseObject, ResponsesRequest

_ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 404, 413, 500)}
_METERED = {"/v1/chat/completions", "/v1/completions", "/v1/models", "/tokenize", "/detokenize"}
_METERED |= {"/v1/messages", "/v1/messages/count_tokens"}
_METERED |= {"/v1/responses"}


class MetricsMiddleware:
    """Counts requests by route and status, and times them to their last byte (streams included)."""

    def __init__(self, app, state: ServerState):
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), [500]
        endpoint = scope["path"] if scope["path"] in _METERED else None

        async def timed_send(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if endpoint is not None:
                self.state.metrics.record_request(endpoint, status[0], time.perf_counter() - start)


def build_app(state: ServerState) -> FastAPI:
    app = FastAPI(
        title="toolwire",
        version=toolwire.__version__,
        description="An OpenAI-compatible inference server whose first concern is correct tool calling.",
    )
    app.state.toolwire = state
    install_error_handlers(app)
    chat = ChatHandler(state)
    completions = CompletionHandler(state)
    tokens = TokenHandler(state)
    messages = MessagesHandler(state, chat)
    responses = ResponsesHandler(state, chat)

    @app.post("/v1/chat/completions", response_model=ChatCompletionResponse, responses=_ERRORS,
              summary="Chat completion (tools, tool_choice, streaming, reasoning)")
    async def create_chat_completion(body: ChatCompletionRequest, raw_request: Request) -> Response:
        return await chat.create(body, raw_request)

    @app.post("/v1/responses", response_model=ResponseObject, responses=_ERRORS,
              summary="Responses API (function tools, tool_choice, streaming, previous_response_id)")
    async def create_response(body: ResponsesRequest, raw_request: Request) -> Response:
        return await responses.create(body, raw_request)

    @app.get("/v1/responses/{response_id}", response_model=ResponseObject, responses=_ERRORS)
    async def retrieve_response(response_id: str) -> Response:
        return responses.get(response_id)

    @app.delete("/v1/responses/{response_id}", response_model=DeletedResponse, responses=_ERRORS)
    async def delete_response(response_id: str) -> Response:
        return responses.delete(response_id)

    @app.post("/v1/messages", summary="Anthropic Messages API (tools, tool_choice, streaming, thinking)")
    async def create_message(body: MessagesRequest, raw_request: Request) -> Response:
        return await messages.create(body, raw_request)

    @app.post("/v1/messages/count_tokens", summary="Anthropic Messages API: the prompt's token count")
    async def count_message_tokens(body: CountTokensRequest) -> dict:
        return await messages.count_tokens(body)

    @app.post("/v1/completions", response_model=CompletionResponse, responses=_ERRORS,
              summary="Text completion")
    async def create_completion(body: CompletionRequest, raw_request: Request) -> Response:
        return await completions.create(body, raw_request)

    @app.get("/v1/models", response_model=ModelList, summary="The served model and its aliases")
    async def list_models() -> ModelList:
        return ModelList(data=[_card(state, name) for name in state.served_names])

    @app.get("/v1/models/{model:path}", response_model=ModelCard, responses=_ERRORS)
    async def retrieve_model(model: str) -> ModelCard:
        check_model(model, state.served_names)
        return _card(state, model)

    @app.get("/health", summary="200 when the engine is ready")
    async def health() -> JSONResponse:
        if not state.healthy():
            raise APIError("the server is shutting down" if state.admission.closed else "the engine is not running",
                           503)
        return JSONResponse({"status": "ok"})

    @app.get("/version")
    async def version() -> dict:
        return {"version": toolwire.__version__}

    @app.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics")
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(state.metrics.render(await state.engine_stats()), media_type="text/plain; version=0.0.4; charset=utf-8")

    @app.post("/tokenize", response_model=TokenizeResponse, responses=_ERRORS)
    async def tokenize(body: TokenizeRequest) -> Response:
        return await tokens.tokenize(body)

    @app.post("/detokenize", response_model=DetokenizeResponse, responses=_ERRORS)
    async def detokenize(body: DetokenizeRequest) -> DetokenizeResponse:
        return await tokens.detokenize(body)

    # The last added runs first: metrics see every answer; the key is checked before admission
    # (queue full, shutting down) and before the size limit reads the body; all run before FastAPI
    # parses it. Innermost, a failure no handler answered becomes a 500 that keeps the connection.
    app.add_middleware(UnexpectedErrorMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=state.max_request_bytes)
    app.add_middleware(AdmissionMiddleware, state=state)
    if state.api_key:
        app.add_middleware(APIKeyMiddleware, api_key=state.api_key, protect_metrics=state.metrics_need_key)
    app.add_middleware(MetricsMiddleware, state=state)
    return app


def _card(state: ServerState, name: str) -> ModelCard:
    """`root` names the model: its hub id, or the name of its file or folder (not where it lies)."""
    source = state.model_source
    root = Path(source).name if source and Path(source).exists() else source
    return ModelCard(id=name, root=root, max_model_len=state.max_model_len)
