"""A real HTTP server on loopback that speaks OpenAI's chat-completions wire format with scripted
replies: JSON for ``stream: false``, SSE chunks for ``stream: true``. It tests the client loop (with
the real OpenAI SDK doing the HTTP), not a model.

Each request takes the next reply from the script; a reply may be a callable of the request body.
Every request body is recorded in ``requests``. A request past the end of the script gets a 400.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.stub_server import QuietServer, StubHandler

_ids = itertools.count()


@dataclass
class Reply:
    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {"id", "name", "arguments"}
    finish_reason: str | None = None
    chunks: list[dict[str, Any]] | None = None  # explicit `delta` dicts to stream instead


def call(name: str, arguments: dict[str, Any] | str, id: str | None = None) -> dict[str, Any]:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return {"id": f"call_{next(_ids)}" if id is None else id, "name": name, "arguments": text}


ScriptItem = Reply | Callable[[dict[str, Any]], Reply]


class ScriptedServer:
    def __init__(self, script: list[ScriptItem] | None = None, *, model: str = "scripted",
                 fragment: int = 3):
        self.script: list[ScriptItem] = list(script or [])
        self.model = model
        self.fragment = fragment  # characters per streamed content / argument fragment
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._httpd = QuietServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def push(self, *items: ScriptItem) -> None:
        with self._lock:
            self.script.extend(items)

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- replies -----------------------------------------------------------------------------

    def _next(self, body: dict[str, Any]) -> Reply | None:
        with self._lock:
            self.requests.append(body)
            if not self.script:
                return None
            item = self.script.pop(0)
        return item(body) if callable(item) else item

    def completion(self, reply: Reply, completion_id: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if reply.tool_calls:
            message["tool_calls"] = [
                {"id": c["id"], "type": "function",
                 "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in reply.tool_calls
            ]
        return {
            "id": completion_id, "object": "chat.completion", "created": int(time.time()),
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": _finish(reply)}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }

    def deltas(self, reply: Reply) -> Iterator[dict[str, Any]]:
        """The reply as deltas: content in pieces, every call's start, then the argument
        fragments of all calls interleaved round-robin (index 0, 1, 0, 1, ...)."""
        if reply.chunks is not None:
            yield from reply.chunks
            return
        yield {"role": "assistant", "content": ""}
        for piece in _pieces(reply.content or "", self.fragment):
            yield {"content": piece}
        for index, c in enumerate(reply.tool_calls):
            yield {"tool_calls": [{"index": index, "id": c["id"], "type": "function",
                                   "function": {"name": c["name"], "arguments": ""}}]}
        pieces = [_pieces(c["arguments"], self.fragment) for c in reply.tool_calls]
        for k in range(max((len(p) for p in pieces), default=0)):
            for index, parts in enumerate(pieces):
                if k < len(parts):
                    yield {"tool_calls": [{"index": index, "function": {"arguments": parts[k]}}]}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(StubHandler):
            model = server.model

            def do_POST(self) -> None:
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._error(404, "not found")
                    return
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                reply = server._next(body)
                if reply is None:
                    self._error(400, "the script has no more replies")
                    return
                completion_id = f"chatcmpl-{next(_ids)}"
                if not body.get("stream"):
                    self._json(200, server.completion(reply, completion_id))
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                base = {"id": completion_id, "object": "chat.completion.chunk",
                        "created": int(time.time()), "model": server.model}
                for delta in server.deltas(reply):
                    self._event({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
                self._event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": _finish(reply)}]})
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _event(self, payload: dict[str, Any]) -> None:
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

        return Handler


def _finish(reply: Reply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def _pieces(text: str, size: int) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]
