"""Errors in the shape of the API that was called: OpenAI's `{"error": {"message", "type", "param",
"code"}}`, or on the Anthropic routes (/v1/messages...) Anthropic's `{"type": "error", "error":
{"type", "message"}}`; and the handlers that make every failure take that shape (FastAPI's 422
becomes a 400; nothing escapes as a bare 500)."""

from __future__ import annotations

import logging
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from toolwire.api.protocol import ErrorInfo, ErrorResponse
from toolwire.protocol.limits import MAX_JSON_DEPTH

logger = logging.getLogger("toolwire.api")

# OpenAI's error types by status.
_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable_error",
}

# Anthropic's error types by status.
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}
ANTHROPIC_ROUTE = "/v1/messages"


def is_anthropic_route(path: str) -> bool:
    return path == ANTHROPIC_ROUTE or path.startswith(ANTHROPIC_ROUTE + "/")


class APIError(Exception):
    """Raised anywhere in request handling; becomes an OpenAI-shaped JSON error."""

    def __init__(self, message: str, status: int = 400, param: str | None = None,
                 code: str | None = None, type: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code
        self.type = type or _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")

    def to_response(self) -> ErrorResponse:
        return ErrorResponse(error=ErrorInfo(message=self.message, type=self.type, param=self.param,
                                             code=self.code))

    def to_anthropic(self) -> dict:
        kind = _ANTHROPIC_TYPES.get(self.status, "api_error" if self.status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": self.message}}

    def body(self, path: str) -> dict:
        """The error's JSON body in the shape of the API at `path`."""
        return self.to_anthropic() if is_anthropic_route(path) else self.to_response().model_dump()


def error_json(status: int, message: str, param: str | None = None, code: str | None = None,
               type: str | None = None, headers: dict[str, str] | None = None, path: str = "") -> JSONResponse:
    error = APIError(message, status, param, code, type)
    return JSONResponse(error.body(path), status_code=status, headers=headers)


def unexpected_error(exc: BaseException) -> APIError:
    """The 500 for a failure that no check foresaw."""
    return APIError(f"internal server error: {type(exc).__name__}: {exc}", 500, type="server_error",
                    code="internal_error")


def stream_failure(exc: Exception, what: str) -> APIError:
    """The error that ends a stream after it began; `what` names the stream in the log. An APIError
    (a request-caused failure, the server shutting down) is expected: one line, no traceback."""
    if isinstance(exc, APIError):
        logger.warning("%s ended: %s", what, exc.message)
        return exc
    logger.exception("%s failed", what)
    return unexpected_error(exc)


def _unparsable_body(exc: StarletteHTTPException) -> str | None:
    """What was wrong with a body FastAPI could not parse (it says only "There was an error parsing
    the body" and keeps the reason as the cause)."""
    cause = exc.__cause__
    if isinstance(cause, RecursionError):
        return f"the JSON body is nested too deep to parse (the limit is {MAX_JSON_DEPTH} levels)"
    if isinstance(cause, UnicodeDecodeError):
        return f"the body is not valid UTF-8 text: {cause.reason} at byte {cause.start}"
    if isinstance(cause, ValueError):
        return f"malformed JSON body: {cause}"
    return None


def _loc_to_param(loc: tuple | list) -> str | None:
    parts = [str(p) for p in loc]
    if not parts:
        return None
    text = parts[0]
    for part in parts[1:]:
        text += f"[{part}]" if part.isdigit() else f".{part}"
    return text


_TYPE_TAGS = {"str", "int", "float", "bool", "dict", "list", "none", "nullable"}


def _is_union_tag(part: object) -> bool:
    # pydantic names the member of a union it tried: a class name, a type ("str", "list[str]").
    return isinstance(part, str) and (part[:1].isupper() or "[" in part or part in _TYPE_TAGS)


def _simplify(errors: list[tuple[tuple, dict]]) -> list[tuple[tuple, str]]:
    """(location, message) pairs; for a union, only the member the input was meant to be (the one
    whose literal fields, like `role`, matched), or else one merged "should be" message."""
    plain: list[tuple[tuple, str]] = []
    unions: dict[tuple, dict[str, list[tuple[tuple, dict]]]] = {}
    for loc, err in errors:
        tag_at = next((i for i, p in enumerate(loc) if _is_union_tag(p)), None)
        if tag_at is None:
            plain.append((loc, err.get("msg", "invalid").removeprefix("Value error, ")))
            continue
        member = unions.setdefault(loc[:tag_at], {}).setdefault(loc[tag_at], [])
        member.append((loc[:tag_at] + loc[tag_at + 1:], err))
    for prefix, members in unions.items():
        def rejected(errs: list[tuple[tuple, dict]]) -> bool:
            return any(loc == prefix or (e.get("type") == "literal_error" and len(loc) == len(prefix) + 1)
                       for loc, e in errs)

        alive = [errs for errs in members.values() if not rejected(errs)]
        if alive:
            plain += _simplify(alive[0])
            continue
        expected: dict[tuple, list[str]] = {}
        for errs in members.values():
            for loc, e in errs:
                if e.get("type") == "literal_error" and len(loc) <= len(prefix) + 1:
                    expected.setdefault(loc, []).append(str((e.get("ctx") or {}).get("expected", "")))
                elif loc == prefix:
                    expected.setdefault(loc, []).append(e.get("msg", "").removeprefix("Input should be "))
        for loc, options in expected.items():
            plain.append((loc, "Input should be " + " or ".join(o for o in options if o)))
    return plain


def describe_validation_error(exc: RequestValidationError) -> tuple[str, str | None]:
    """One readable message from pydantic's errors, and the first offending field as `param`."""
    errors = exc.errors()
    if not errors:
        return "invalid request", None
    first = errors[0]
    ctx = first.get("ctx") or {}
    if first.get("type") == "json_invalid":
        return f"malformed JSON body: {ctx.get('error', 'cannot parse')}", None
    if first.get("type") == "request_limit":  # toolwire.protocol.limits: the field is in ctx
        param = ctx.get("param") or None
        return (f"{param}: {first['msg']}" if param else first["msg"]), param
    messages, seen = [], set()
    pairs = _simplify([(tuple(p for p in e.get("loc", ()) if p != "body"), e) for e in errors])
    for loc, msg in pairs:
        param = _loc_to_param(loc)
        text = f"{param}: {msg}" if param else msg
        if text not in seen:
            seen.add(text)
            messages.append(text)
    more = f" (and {len(messages) - 5} more)" if len(messages) > 5 else ""
    return "; ".join(messages[:5]) + more, _loc_to_param(pairs[0][0]) if pairs else None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(request.url.path), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = describe_validation_error(exc)
        return error_json(400, message, param=param, code="invalid_request", path=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        try:
            phrase = HTTPStatus(exc.status_code).phrase
        except ValueError:
            phrase = "error"
        message = _unparsable_body(exc) or (exc.detail if isinstance(exc.detail, str) else phrase)
        return error_json(exc.status_code, message, headers=getattr(exc, "headers", None), path=request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error while handling %s %s", request.method, request.url.path)
        error = unexpected_error(exc)
        return JSONResponse(error.body(request.url.path), status_code=error.status)
