"""A real HTTP server on loopback that speaks OpenAI's chat-completions wire format, with replies
chosen per request by a Python function, for testing `toolwire bench` and `toolwire eval bfcl`
without a model. It can also misbehave on purpose: error statuses, a stream cut short, an event that
is not JSON, a field it rejects, a connection dropped without a response.

    def respond(body): return StubReply(content="hello world")
    with OpenAIStub(respond) as stub:
        ... stub.base_url ...   # http://127.0.0.1:PORT/v1
        stub.requests           # every chat request body received
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.stub_server import QuietServer, StubHandler

_ids = itertools.count()


@dataclass
class StubReply:
    content: str | None = None
    tool_calls: list[tuple[str, str]] = field(default_factory=list)  # (name, arguments JSON text)
    status: int = 200
    error_message: str = "scripted error"
    usage: bool = True  # send usage (whole replies always; streams when include_usage is asked)
    completion_tokens: int | None = None  # default: one per streamed piece
    raw_events: list[str] | None = None  # stream exactly these `data:` payloads (no [DONE] added)
    cut_after: int | None = None  # stream only this many content pieces, then close (no [DONE])
    drop_connection: bool = False  # close the socket without answering
    piece_delay_s: float = 0.0


Responder = Callable[[dict[str, Any]], StubReply]


def words_reply(body: dict[str, Any]) -> StubReply:
    """`max_tokens` words of text (each streamed word is one token)."""
    return StubReply(content=" ".join(f"w{i}" for i in range(int(body.get("max_tokens") or 16))))


class OpenAIStub:
    def __init__(self, respond: Responder = words_reply, *, model: str = "stub-model",
                 reject_fields: tuple[str, ...] = ()):
        self.respond = respond
        self.model = model
        self.reject_fields = reject_fields
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = QuietServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> OpenAIStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(StubHandler):
            protocol_version = "HTTP/1.0"  # a streamed body ends when the connection closes
            model = stub.model

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._error(404, "not found")
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with stub._lock:
                    stub.requests.append(body)
                rejected = [f for f in stub.reject_fields if f in body]
                if rejected:
                    self._error(400, f"unknown field: {rejected[0]}")
                    return
                reply = stub.respond(body)
                if reply.drop_connection:
                    self.close_connection = True
                    self.connection.close()
                    return
                if reply.status >= 400:
                    self._error(reply.status, reply.error_message)
                    return
                if body.get("stream"):
                    self._stream(body, reply)
                else:
                    self._json(200, stub.completion(body, reply))

            def _stream(self, body: dict[str, Any], reply: StubReply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                if reply.raw_events is not None:
                    for event in reply.raw_events:
                        self.wfile.write(f"data: {event}\n\n".encode())
                    return
                base = {"id": f"chatcmpl-{next(_ids)}", "object": "chat.completion.chunk",
                        "created": int(time.time()), "model": stub.model}

                def send(delta: dict[str, Any], finish: str | None = None) -> None:
                    chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()

                send({"role": "assistant", "content": ""})
                pieces = _pieces(reply.content)
                for n, piece in enumerate(pieces):
                    if reply.cut_after is not None and n >= reply.cut_after:
                        return
                    time.sleep(reply.piece_delay_s)
                    send({"content": piece})
                for index, (name, arguments) in enumerate(reply.tool_calls):
                    send({"tool_calls": [{"index": index, "id": f"call_{next(_ids)}", "type": "function",
                                          "function": {"name": name, "arguments": ""}}]})
                    for k in range(0, len(arguments), 5):
                        send({"tool_calls": [{"index": index, "function": {"arguments": arguments[k:k + 5]}}]})
                send({}, _finish(reply, body, len(pieces)))
                if reply.usage and (body.get("stream_options") or {}).get("include_usage"):
                    usage = stub.usage(reply, len(pieces) + len(reply.tool_calls))
                    self.wfile.write(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        return Handler

    def usage(self, reply: StubReply, pieces: int) -> dict[str, int]:
        completion = reply.completion_tokens if reply.completion_tokens is not None else pieces
        return {"prompt_tokens": 7, "completion_tokens": completion, "total_tokens": 7 + completion}

    def completion(self, body: dict[str, Any], reply: StubReply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = [{"id": f"call_{next(_ids)}", "type": "function",
                                      "function": {"name": name, "arguments": arguments}}
                                     for name, arguments in reply.tool_calls]
        pieces = len(_pieces(reply.content))
        out = {"id": f"chatcmpl-{next(_ids)}", "object": "chat.completion", "created": int(time.time()),
               "model": self.model,
               "choices": [{"index": 0, "message": message, "finish_reason": _finish(reply, body, pieces)}]}
        if reply.usage:
            out["usage"] = self.usage(reply, pieces + len(reply.tool_calls))
        return out


def _pieces(content: str | None) -> list[str]:
    """Content as streamed pieces: each word with its leading space."""
    if not content:
        return []
    words = content.split(" ")
    return [words[0]] + [" " + w for w in words[1:]]


def _finish(reply: StubReply, body: dict[str, Any], pieces: int) -> str:
    if reply.tool_calls:
        return "tool_calls"
    return "length" if body.get("max_tokens") and pieces >= body["max_tokens"] else "stop"
