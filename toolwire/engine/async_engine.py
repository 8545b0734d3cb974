"""AsyncEngine: the asyncio front of the engine.

The engine loop runs on a background thread (the model forward is blocking torch code). Requests and
aborts reach it through a command queue; outputs go back to each consumer's event loop with
call_soon_threadsafe, one call per loop per step. A consumer that stops iterating (aclose(),
cancellation, a client that went away) aborts its request, which frees its blocks before the next
step.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from toolwire.engine.config import EngineConfig
from toolwire.engine.llm_engine import LLMEngine
from toolwire.engine.outputs import RequestOutput
from toolwire.engine.sampling_params import SamplingParams

logger = logging.getLogger(__name__)


@dataclass
class _Stream:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue


class AsyncEngine:
    def __init__(self, config: EngineConfig | None = None, loaded_model=None):
        self.engine = LLMEngine(config, loaded_model)
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._streams: dict[str, _Stream] = {}  # touched by the engine thread only
        self._stopped = False
        # Set by abort_all: why new requests are refused.
        self._closed_because: str | None = None
        self._thread = threading.Thread(target=self._run, name="toolwire-engine", daemon=True)
        self._thread.start()

    @property
    def tokenizer(self):
        return self.engine.tokenizer

    @property
    def max_model_len(self) -> int:
        return self.engine.max_model_len

    async def generate(self, prompt_token_ids: list[int], sampling_params: SamplingParams | None = None,
                       request_id: str | None = None) -> AsyncIterator[RequestOutput]:
        """Yield RequestOutputs (one per choice per step) until every choice has finished."""
        params = sampling_params or SamplingParams()
        request_id = request_id or uuid.uuid4().hex
        if self._stopped or self._closed_because:
            raise RuntimeError(self._closed_because or "the engine has shut down")
        self.engine.validate_request(prompt_token_ids, params)
        stream = _Stream(asyncio.get_running_loop(), asyncio.Queue())
        self._commands.put(("add", request_id, list(prompt_token_ids), params, stream))
        unfinished = params.n
        try:
            while unfinished:
                item = await stream.queue.get()
                if isinstance(item, BaseException):
                    unfinished = 0
                    raise item
                unfinished -= item.finished
                yield item
        finally:
            if unfinished:
                self.abort(request_id)

    def abort(self, request_id: str) -> None:
        """Abort a request (thread-safe, returns at once); its consumer gets an "abort" output."""
        self._commands.put(("abort", request_id))

    @property
    def closed_because(self) -> str | None:
        """Why the engine refuses requests after abort_all (None while it takes them)."""
        return self._closed_because

    def abort_all(self, reason: str) -> None:
        """End every request with an "abort" output and refuse new ones, giving `reason`
        (thread-safe, returns at once)."""
        self._closed_because = reason
        self._commands.put(("abort_all",))

    def observe_queue_time(self, callback: Callable[[float], None]) -> None:
        """Have callback told (on the engine thread) how long each sequence waited before its first
        step. Call before the first request."""
        self.engine.scheduler.on_first_scheduled = callback

    async def get_stats(self) -> dict[str, int]:
        """Engine counters, read between steps (after every command sent before this call)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._commands.put(("stats", loop, future))
        return await future

    def shutdown(self) -> None:
        if not self._stopped:
            self._stopped = True
            self._commands.put(("stop",))
            self._thread.join()
            self.engine.runner.close()

    # -- engine thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopped:
            if not self.engine.has_unfinished_requests():
                self._handle(self._commands.get())
            while True:
                try:
                    self._handle(self._commands.get_nowait())
                except queue.Empty:
                    break
            if self._stopped or not self.engine.has_unfinished_requests():
                continue
            try:
                outputs = self.engine.step()
            except Exception as error:  # keep serving: fail the requests in flight, free their blocks
                logger.exception("engine step failed")
                self._fail_all(error)
                continue
            self._dispatch(outputs)
        self._fail_all(RuntimeError("the engine has shut down"))

    def _handle(self, command: tuple) -> None:
        kind = command[0]
        if kind == "add":
            _, request_id, prompt, params, stream = command
            try:
                self.engine.add_request(request_id, prompt, params)
            except Exception as error:
                _send(stream, [error])
                return
            self._streams[request_id] = stream
        elif kind == "abort":
            self._dispatch(self.engine.abort_request(command[1]))
        elif kind == "abort_all":
            for request_id in list(self._streams):
                self._dispatch(self.engine.abort_request(request_id))
        elif kind == "stats":
            _, loop, future = command
            _call_soon(loop, _resolve, future, self.engine.stats())
        elif kind == "stop":
            self._stopped = True

    def _dispatch(self, outputs: list[RequestOutput]) -> None:
        by_stream: dict[int, tuple[_Stream, list]] = {}
        for output in outputs:
            stream = self._streams.get(output.request_id)
            if stream is not None:
                by_stream.setdefault(id(stream), (stream, []))[1].append(output)
        per_loop: dict[asyncio.AbstractEventLoop, list] = defaultdict(list)
        for stream, items in by_stream.values():
            per_loop[stream.loop].append((stream.queue, items))
        for loop, deliveries in per_loop.items():
            _call_soon(loop, _deliver, deliveries)
        for request_id in {output.request_id for output in outputs}:
            if not self.engine.has_request(request_id):
                self._streams.pop(request_id, None)

    def _fail_all(self, error: Exception) -> None:
        for request_id, stream in list(self._streams.items()):
            self.engine.abort_request(request_id)
            _send(stream, [error])
        self._streams.clear()


def _deliver(deliveries: list[tuple[asyncio.Queue, list]]) -> None:
    for target, items in deliveries:
        for item in items:
            target.put_nowait(item)


def _send(stream: _Stream, items: list) -> None:
    _call_soon(stream.loop, _deliver, [(stream.queue, items)])


def _resolve(future: asyncio.Future, value) -> None:
    if not future.done():
        future.set_result(value)


def _call_soon(loop: asyncio.AbstractEventLoop, callback, *args) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the consumer's loop has closed: nobody is listening
        pass
