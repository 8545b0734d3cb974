"""ASGI middleware that runs before any body is parsed: the API key check and the body size limit."""

from __future__ import annotations

import hmac
import json

from toolwire.api.errors import APIError


async def _send_error(send, scope, error: APIError) -> None:
    body = json.dumps(error.body(scope["path"])).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if error.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class APIKeyMiddleware:
    """With a key set, every /v1 route needs `Authorization: Bearer KEY` or `x-api-key: KEY` (the
    Anthropic SDK's header)."""

    def __init__(self, app, api_key: str, prefix: str = "/v1"):
        self.app, self.api_key, self.prefix = app, api_key.encode(), prefix

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") == "OPTIONS" or not (
                scope["path"] == self.prefix or scope["path"].startswith(self.prefix + "/")):
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"")
        scheme, _, token = authorization.partition(b" ")
        presented = [headers[b"x-api-key"]] if b"x-api-key" in headers else []
        if scheme.lower() == b"bearer":
            presented.append(token.strip())
        if any(hmac.compare_digest(key, self.api_key) for key in presented):
            return await self.app(scope, receive, send)
        message = "Missing API key: send `Authorization: Bearer YOUR_KEY` or `x-api-key: YOUR_KEY`." \
            if not authorization and not presented else "Incorrect API key provided."
        await _send_error(send, scope, APIError(message, 401, code="invalid_api_key"))


class BodySizeLimitMiddleware:
    """Refuses (413) a request body larger than max_bytes, by its Content-Length or as it streams in."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self, size: int | None = None) -> APIError:
        told = f" ({size} bytes)" if size is not None else ""
        return APIError(f"request body too large{told}: the limit is {self.max_bytes} bytes", 413,
                        code="request_too_large")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await _send_error(send, scope, self._too_large(int(length)))

        # Read the body up front (it is small by construction) so an over-long chunked body is
        # refused before the app sees any of it, then replay it.
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await _send_error(send, scope, self._too_large())
            if not message.get("more_body", False):
                break

        replay = iter(messages)

        async def replay_receive():
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        return await self.app(scope, replay_receive, send)
