"""What the scripted OpenAI-compatible test servers share: a threaded loopback server that ignores
clients hanging up, and a request handler with JSON replies, OpenAI-shaped errors, /health and
/v1/models (subclasses set `model` and add do_POST)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-stream (a loop stopped early, a dropped connection on purpose)
        # is normal here; anything else is printed as usual.
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class StubHandler(BaseHTTPRequestHandler):
    model = "stub"

    def log_message(self, *args: Any) -> None:
        pass

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": {"message": message, "type": "invalid_request_error", "param": None,
                                      "code": None}})

    def do_GET(self) -> None:
        path = self.path.rstrip("/")
        if path == "/health":
            self._json(200, {"status": "ok"})
        elif path == "/v1/models":
            self._json(200, {"object": "list", "data": [
                {"id": self.model, "object": "model", "created": 0, "owned_by": "stub"}]})
        else:
            self._error(404, "not found")
