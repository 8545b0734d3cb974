"""What chat and text completions share: request fields -> SamplingParams, a choice the engine
ended with an error -> the API's error, and noticing a client that went away while a non-streaming
request runs."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

from fastapi import Request

from toolwire.api.errors import APIError
from toolwire.api.protocol import SamplingFields
from toolwire.engine.sampling_params import SamplingParams

# Request fields that --override-generation-config may give defaults to.
GENERATION_DEFAULT_KEYS = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty",
                           "presence_penalty", "frequency_penalty", "max_tokens", "seed")


def build_sampling_params(request: SamplingFields, max_tokens: int, state, logprobs: int | None,
                          skip_special_tokens: bool | None = None) -> SamplingParams:
    defaults = state.generation_defaults

    def pick(name: str, fallback):
        value = getattr(request, name, None)
        if value is None:
            value = defaults.get(name, fallback)
        return value

    logit_bias = {int(k): float(v) for k, v in (request.logit_bias or {}).items()}
    try:
        return SamplingParams(
            n=request.n,
            temperature=pick("temperature", 1.0),
            top_p=pick("top_p", 1.0),
            top_k=pick("top_k", 0),
            min_p=pick("min_p", 0.0),
            repetition_penalty=pick("repetition_penalty", 1.0),
            presence_penalty=pick("presence_penalty", 0.0),
            frequency_penalty=pick("frequency_penalty", 0.0),
            logit_bias=logit_bias or None,
            seed=pick("seed", None),
            max_tokens=max_tokens,
            min_tokens=request.min_tokens,
            stop=request.stop_strings(),
            stop_token_ids=list(request.stop_token_ids or []),
            ignore_eos=request.ignore_eos,
            logprobs=logprobs,
            skip_special_tokens=request.skip_special_tokens if skip_special_tokens is None else skip_special_tokens,
            priority=request.priority,
        )
    except ValueError as exc:
        raise APIError(str(exc), 400) from None


def raise_for_failure(output) -> None:
    """Raise the API's error for an engine output whose choice failed (finish_reason "error"): a 400
    when the request's own settings left no token to generate, else a 500. The request ends there;
    the other requests in the engine's batch are not touched."""
    failure = output.failure
    if failure is None:
        return
    if failure.caused_by_request:
        raise APIError(failure.message, 400, code="no_allowed_token")
    raise APIError(f"generating this reply failed: {failure.message}", 500, code="generation_failed")


def raise_if_shut_down(state, last_output) -> None:
    """Called after a request's last output has been passed on: if that was the "abort" with which
    the server's shutdown ended the request, its error (a 503) follows the finish_reason."""
    reason = state.engine.closed_because
    if reason and last_output is not None and last_output.finish_reason == "abort":
        raise APIError(reason, 503, code="server_shutting_down")


async def watch_disconnect(raw_request: Request, gone: asyncio.Event, on_disconnect: Callable[[], None]) -> None:
    """Wait for the client to go away (the body has been read, so the next message is the
    disconnect), then set `gone` and call on_disconnect."""
    while True:
        message = await raw_request.receive()
        if message["type"] == "http.disconnect":
            gone.set()
            on_disconnect()
            return


async def drain_watching_client(events, raw_request: Request, state, request_id: str,
                                each: Callable[[Any], None] | None = None) -> None:
    """Hands every event to `each` while watching the client: one that leaves aborts the request (its
    sequence and KV blocks are freed at once) and the answer is a 499."""
    gone = asyncio.Event()
    watcher = asyncio.create_task(watch_disconnect(raw_request, gone, lambda: state.engine.abort(request_id)))
    try:
        async for event in events:
            if each is not None:
                each(event)
    finally:
        watcher.cancel()
        await events.aclose()
    if gone.is_set():
        state.metrics.record_abort()
        raise APIError("client disconnected", 499, type="client_closed_request")
