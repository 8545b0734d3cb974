"""ASGI middleware: the API key check and the body size limit, which run before any body is
parsed, and the last resort that answers a failure no handler foresaw."""

from __future__ import annotations

import hmac
import json
import logging

from toolwire.api.errors import APIError, unexpected_error

logger = logging.getLogger("toolwire.api")

# What anyone may read without the key: liveness, the version, and the API's documentation.
PUBLIC_PATHS = frozenset({"/health", "/version", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})


async def _send_error(send, scope, error: APIError) -> None:
    body = json.dumps(error.body(scope["path"])).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if error.status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class APIKeyMiddleware:
    """With a key set, every route but PUBLIC_PATHS (and /metrics, unless `protect_metrics`) needs
    `Authorization: Bearer KEY` or `x-api-key: KEY` (the Anthropic SDK's header). The scheme is
    matched case-insensitively (`bearer KEY` too), as RFC 7235 defines auth schemes."""

    def __init__(self, app, api_key: str, protect_metrics: bool = False):
        self.app, self.api_key = app, api_key.encode()
        self.public = PUBLIC_PATHS if protect_metrics else PUBLIC_PATHS | {"/metrics"}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") == "OPTIONS" or scope["path"] in self.public:
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


class UnexpectedErrorMiddleware:
    """A failure that no handler turned into an answer becomes a 500 in the called API's shape,
    and the connection stays open. (Starlette's last-resort handler re-raises after answering, so
    the server drops the connection and the client's next request on it fails too.)"""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # the answer has begun: only closing the connection can end it
                raise
            logger.exception("unexpected error while handling %s %s", scope.get("method"), scope["path"])
            await _send_error(send, scope, unexpected_error(exc))
