"""Talking to any OpenAI-compatible server over HTTP: base URLs, model discovery, SSE decoding, and
the names of the ways a request can fail. Used by `toolwire bench` and `toolwire eval bfcl`; only
standard OpenAI fields are relied on, so the same code measures toolwire, vLLM, llama-server or
OpenAI itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx

DONE = object()  # what `sse_payloads` yields for `data: [DONE]`


class StreamError(Exception):
    """The body of a 200 response was not a well-formed chat-completions event stream."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind  # "malformed_stream" or "stream_error" (the server sent an error object)


def normalize_base_url(url: str) -> str:
    """`http://host:port` and `http://host:port/` mean `http://host:port/v1`; a URL with a path is
    taken as given (OpenAI's own convention: the base URL ends where `/chat/completions` starts)."""
    url = url.rstrip("/")
    if urlsplit(url).path in ("", "/"):
        url += "/v1"
    return url


def auth_headers(api_key: str | None) -> dict[str, str]:
    key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


async def first_model(client: httpx.AsyncClient, base_url: str) -> str:
    """The id of the first model that GET /models lists."""
    response = await client.get(f"{base_url}/models")
    response.raise_for_status()
    data = response.json().get("data") or []
    if not data or not data[0].get("id"):
        raise RuntimeError(f"{base_url}/models lists no model; pass --model")
    return data[0]["id"]


async def sse_payloads(response: httpx.Response) -> AsyncIterator[Any]:
    """Decode the `data:` events of a server-sent-event body into JSON objects (`DONE` for the
    `[DONE]` sentinel). Multi-line data fields are joined per the SSE rules; comments and other
    fields (`event:`, `id:`) are skipped. Raises StreamError on a payload that is not JSON."""
    data_lines: list[str] = []
    async for line in response.aiter_lines():
        if line == "":
            if data_lines:
                yield _decode_event("\n".join(data_lines))
                data_lines = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data_lines.append(value[1:] if value.startswith(" ") else value)
    if data_lines:
        yield _decode_event("\n".join(data_lines))


def _decode_event(data: str) -> Any:
    if data.strip() == "[DONE]":
        return DONE
    try:
        payload = json.loads(data)
    except json.JSONDecodeError as exc:
        raise StreamError("malformed_stream", f"event data is not JSON: {data[:120]!r}") from exc
    if isinstance(payload, dict) and "error" in payload and "choices" not in payload:
        message = payload["error"].get("message") if isinstance(payload["error"], dict) else payload["error"]
        raise StreamError("stream_error", f"the server sent an error in the stream: {message}")
    if not isinstance(payload, dict):
        raise StreamError("malformed_stream", f"event data is not a JSON object: {data[:120]!r}")
    return payload


def error_kind(exc: BaseException) -> str:
    """A short, countable name for a failed request."""
    if isinstance(exc, StreamError):
        return exc.kind
    if isinstance(exc, httpx.HTTPStatusError):
        return f"http_{exc.response.status_code}"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError,
                        httpx.WriteError, httpx.NetworkError)):
        return "connection"
    if isinstance(exc, json.JSONDecodeError):
        return "malformed_response"
    return type(exc).__name__


def error_message(response: httpx.Response) -> str:
    """The `error.message` of an OpenAI-shaped error body, else the start of the body."""
    try:
        body = response.json()
        if isinstance(body, dict):
            error = body.get("error", body)
            if isinstance(error, dict) and error.get("message"):
                return str(error["message"])
            if isinstance(body.get("detail"), (str, list)):
                return str(body["detail"])[:300]
    except (json.JSONDecodeError, UnicodeDecodeError):
        pass
    return response.text[:300]


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
