"""Admission of generation requests, before any work is done for them: back-pressure
(--max-queued-requests: past the running batch and N waiting requests, a 429 with Retry-After) and
the graceful drain (once shutdown begins, a 503; and the drain waits for the requests in flight)."""

from __future__ import annotations

import asyncio

from toolwire.api.errors import error_json

# The routes that start a generation (POST only).
GENERATION_ROUTES = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/messages"})
# Seconds a refused client is told to wait before it tries again.
RETRY_AFTER_S = 1


class Admission:
    """Counts the generation requests in flight, from arrival to their last byte. max_running is
    the engine's running batch (--max-num-seqs); max_queued (None: no limit) how many may wait
    beyond it."""

    def __init__(self, max_running: int, max_queued: int | None):
        self.max_running, self.max_queued = max_running, max_queued
        self.in_flight = 0
        self.closed = False
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def full(self) -> bool:
        return self.max_queued is not None and self.in_flight >= self.max_running + self.max_queued

    def enter(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    def close(self) -> None:
        """Refuse every new generation request from now on (the server is shutting down)."""
        self.closed = True

    async def wait_idle(self, timeout: float) -> bool:
        """Whether every request in flight has ended within `timeout` seconds."""
        if self._idle.is_set():
            return True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True


class AdmissionMiddleware:
    """Refuses a generation request, in the called API's error shape, while the server is shutting
    down (503) or its queue is full (429); both tell the client when to retry."""

    def __init__(self, app, state):
        self.app, self.state = app, state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or scope["path"] not in GENERATION_ROUTES:
            return await self.app(scope, receive, send)
        admission: Admission = self.state.admission
        if admission.closed:
            return await self._refuse(scope, receive, send, 503, "server_shutting_down",
                                      "the server is shutting down; send the request to another instance "
                                      "or retry later")
        if admission.full:
            return await self._refuse(scope, receive, send, 429, "queue_full",
                                      f"the server is at capacity: its running batch ({admission.max_running}) "
                                      f"and its queue ({admission.max_queued}, --max-queued-requests) are "
                                      f"full; retry after {RETRY_AFTER_S} s")
        admission.enter()
        try:
            await self.app(scope, receive, send)
        finally:
            admission.leave()

    async def _refuse(self, scope, receive, send, status: int, reason: str, message: str) -> None:
        self.state.metrics.record_rejection(reason)
        response = error_json(status, message, code=reason, headers={"Retry-After": str(RETRY_AFTER_S)},
                              path=scope["path"])
        await response(scope, receive, send)
