"""What the isolation and preemption tests share: a streamed or whole request read to its end on its
own thread, keeping what the client saw (chunks, error events, [DONE], finish reasons, status)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class Reply:
    """What one client saw."""

    status: int = 0
    # Streamed: the data chunks and error events in order, and whether [DONE] came.
    chunks: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    done: bool = False
    # Whole: the JSON body (an answer or an error).
    body: dict | None = None
    # Choice index -> finish_reason, from the chunks or the body.
    finish_reasons: dict[int, str] = field(default_factory=dict)
    # The client left on purpose before the end.
    left: bool = False
    ended_at: float = 0.0
    started: threading.Event = field(default_factory=threading.Event)

    @property
    def text(self) -> str:
        parts = []
        for chunk in self.chunks:
            for choice in chunk.get("choices", []):
                parts.append(choice.get("delta", {}).get("content") or choice.get("text") or "")
        return "".join(parts)

    def completed(self) -> bool:
        """Ended as a well-behaved stream does: every choice has a finish_reason, no error, [DONE]."""
        return self.status == 200 and self.done and not self.errors and bool(self.finish_reasons)


def send(base_url: str, path: str, body: dict, leave_after: int | None = None, timeout: float = 180,
         reply: Reply | None = None) -> Reply:
    """POST body to base_url + path and read the answer to its end (a stream: until [DONE], or until
    `leave_after` data lines have come, when the client closes the connection). Pass `reply` to watch
    it from another thread while it fills."""
    reply = reply if reply is not None else Reply()
    try:
        if body.get("stream"):
            _read_stream(base_url + path, body, reply, leave_after, timeout)
        else:
            response = httpx.post(base_url + path, json=body, timeout=timeout)
            reply.status = response.status_code
            reply.body = response.json()
            for choice in reply.body.get("choices") or []:
                reply.finish_reasons[choice["index"]] = choice["finish_reason"]
    finally:
        reply.ended_at = time.monotonic()
        reply.started.set()
    return reply


def _read_stream(url: str, body: dict, reply: Reply, leave_after: int | None, timeout: float) -> None:
    with httpx.stream("POST", url, json=body, timeout=timeout) as response:
        reply.status = response.status_code
        if response.status_code != 200:
            reply.body = json.loads(response.read())
            return
        if leave_after == 0:
            reply.left = True
            return
        lines = 0
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            data = line.removeprefix("data: ")
            lines += 1
            if data == "[DONE]":
                reply.done = True
                continue
            event = json.loads(data)
            if "error" in event:
                reply.errors.append(event["error"])
                continue
            reply.chunks.append(event)
            for choice in event.get("choices", []):
                if choice.get("delta", {}).get("content") or choice.get("text"):
                    reply.started.set()
                if choice.get("finish_reason"):
                    reply.finish_reasons[choice["index"]] = choice["finish_reason"]
            if leave_after is not None and lines >= leave_after:
                reply.left = True
                return


def in_thread(function, *args, **kwargs) -> tuple[threading.Thread, list]:
    """Run function on a thread; the list gets its result (or the exception it raised)."""
    box: list = []

    def run() -> None:
        try:
            box.append(function(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def result(thread: threading.Thread, box: list, timeout: float = 180):
    thread.join(timeout)
    assert box, "the request did not end in time"
    if isinstance(box[0], BaseException):
        raise box[0]
    return box[0]
