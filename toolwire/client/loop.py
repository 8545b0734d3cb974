"""The tool loop: call the model, execute the calls it asks for, send the results, repeat.

``run_tools`` works with any OpenAI-compatible server through the OpenAI Python SDK (or any object
with the same ``client.chat.completions.create``). With a sync client it returns a ``ToolRunResult``;
with an async client (``AsyncOpenAI``) it returns an awaitable of one, so ``await run_tools(...)``
just works. ``arun_tools`` is the explicitly async spelling. ``iter_tools`` / ``aiter_tools`` run the
same loop as a stream of events (text deltas, calls, results, steps).

Rules of the loop:

- a forced ``tool_choice`` (``"required"`` or a named function) applies to the first request only;
  later requests send ``"auto"``, so a forced call cannot repeat forever (``reset_tool_choice=False``
  keeps forcing, and then only ``max_steps`` ends the run);
- ``max_steps`` bounds the number of model calls; when the last allowed reply still asks for tools,
  those calls are executed (so the transcript stays valid to send again) and the result comes back
  with ``cut_off=True``; nothing is raised;
- a call to an unknown function, arguments that are not a JSON object or do not match the schema,
  and an exception inside a tool all come back to the model as ``{"error": ..., "success": false}``;
- HTTP errors from the server are not tool errors: the SDK's exceptions propagate.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, overload

from toolwire.client.execution import aexecute_calls, execute_calls
from toolwire.client.results import (
    RunEvent, StepFinished, TextDelta, ToolCallFinished, ToolCallRequested, ToolRunResult,
)
from toolwire.client.state import LoopState, Reply, ToolLoopError, ToolsArg
from toolwire.client.stream import ContentDelta, StreamAssembler

if TYPE_CHECKING:  # the SDK is only needed by whoever passes a client
    from openai import AsyncOpenAI, OpenAI

__all__ = ["run_tools", "arun_tools", "iter_tools", "aiter_tools", "ToolEvents", "AsyncToolEvents",
           "ToolLoopError"]

TextCallback = Callable[[str], Any]

_Messages = Iterable[Mapping[str, Any] | Any]
_Functions = Mapping[str, Callable[..., Any]] | None


@overload
def run_tools(
    client: AsyncOpenAI, model: str, messages: _Messages, tools: ToolsArg, *,
    functions: _Functions = None, max_steps: int = 10, stream: bool = False,
    on_text: TextCallback | None = None, reset_tool_choice: bool = True, concurrent: bool = True,
    tool_message_name: bool = True, **request_fields: Any,
) -> Awaitable[ToolRunResult]: ...
@overload
def run_tools(
    client: OpenAI, model: str, messages: _Messages, tools: ToolsArg, *,
    functions: _Functions = None, max_steps: int = 10, stream: bool = False,
    on_text: TextCallback | None = None, reset_tool_choice: bool = True, concurrent: bool = True,
    tool_message_name: bool = True, **request_fields: Any,
) -> ToolRunResult: ...
@overload
def run_tools(
    client: Any, model: str, messages: _Messages, tools: ToolsArg, *,
    functions: _Functions = None, max_steps: int = 10, stream: bool = False,
    on_text: TextCallback | None = None, reset_tool_choice: bool = True, concurrent: bool = True,
    tool_message_name: bool = True, **request_fields: Any,
) -> ToolRunResult | Awaitable[ToolRunResult]: ...


def run_tools(
    client: Any,
    model: str,
    messages: Iterable[Mapping[str, Any] | Any],
    tools: ToolsArg,
    *,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    max_steps: int = 10,
    stream: bool = False,
    on_text: TextCallback | None = None,
    reset_tool_choice: bool = True,
    concurrent: bool = True,
    tool_message_name: bool = True,
    **request_fields: Any,
) -> ToolRunResult | Awaitable[ToolRunResult]:
    """Run the tool loop until the model replies without tool calls, or ``max_steps`` replies.

    - client: ``OpenAI`` (returns the result) or ``AsyncOpenAI`` (returns an awaitable);
    - tools: ``@tool`` functions, plain typed functions, and/or OpenAI definition dicts whose
      implementations are given in ``functions`` (name -> callable); or a ``Toolbox``;
    - stream: use ``stream=True`` requests; tool calls are assembled by index before running;
    - on_text: called with reply text as it arrives (each fragment when streaming, each reply's
      whole text otherwise); may be a coroutine function with an async client;
    - concurrent: run the calls of one reply at the same time (threads for sync tools,
      ``asyncio.gather`` for async tools with an async client);
    - tool_message_name: put the function ``name`` on ``tool`` messages beside ``tool_call_id``
      (some chat templates use it; set False for a server that rejects it);
    - request_fields: anything else for ``chat.completions.create`` (``tool_choice``,
      ``temperature``, ``seed``, ``max_tokens``, ``parallel_tool_calls``, ``extra_body`` ...).
      ``tool_choice`` may also be a tool's name or a ``Tool``, meaning that function.
    """
    loop = LoopState(model, messages, tools, functions=functions, max_steps=max_steps, stream=stream,
                 reset_tool_choice=reset_tool_choice, concurrent=concurrent,
                 tool_message_name=tool_message_name, request_fields=request_fields)
    if _is_async_client(client):
        return _drain_async(_drive_async(loop, client), loop, on_text)
    for event in _drive(loop, client):
        if on_text is not None and isinstance(event, TextDelta):
            on_text(event.text)
    return loop.result()


async def arun_tools(
    client: Any,
    model: str,
    messages: Iterable[Mapping[str, Any] | Any],
    tools: ToolsArg,
    *,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    max_steps: int = 10,
    stream: bool = False,
    on_text: TextCallback | None = None,
    reset_tool_choice: bool = True,
    concurrent: bool = True,
    tool_message_name: bool = True,
    **request_fields: Any,
) -> ToolRunResult:
    """``run_tools`` for an async client (``AsyncOpenAI``), as a coroutine."""
    if not _is_async_client(client):
        raise TypeError("arun_tools needs an async client (AsyncOpenAI); use run_tools with OpenAI")
    loop = LoopState(model, messages, tools, functions=functions, max_steps=max_steps, stream=stream,
                 reset_tool_choice=reset_tool_choice, concurrent=concurrent,
                 tool_message_name=tool_message_name, request_fields=request_fields)
    return await _drain_async(_drive_async(loop, client), loop, on_text)


@overload
def iter_tools(
    client: AsyncOpenAI, model: str, messages: _Messages, tools: ToolsArg, *,
    functions: _Functions = None, max_steps: int = 10, stream: bool = True,
    reset_tool_choice: bool = True, concurrent: bool = True, tool_message_name: bool = True,
    **request_fields: Any,
) -> AsyncToolEvents: ...
@overload
def iter_tools(
    client: OpenAI, model: str, messages: _Messages, tools: ToolsArg, *,
    functions: _Functions = None, max_steps: int = 10, stream: bool = True,
    reset_tool_choice: bool = True, concurrent: bool = True, tool_message_name: bool = True,
    **request_fields: Any,
) -> ToolEvents: ...
@overload
def iter_tools(
    client: Any, model: str, messages: _Messages, tools: ToolsArg, *,
    functions: _Functions = None, max_steps: int = 10, stream: bool = True,
    reset_tool_choice: bool = True, concurrent: bool = True, tool_message_name: bool = True,
    **request_fields: Any,
) -> ToolEvents | AsyncToolEvents: ...


def iter_tools(
    client: Any,
    model: str,
    messages: Iterable[Mapping[str, Any] | Any],
    tools: ToolsArg,
    *,
    functions: Mapping[str, Callable[..., Any]] | None = None,
    max_steps: int = 10,
    stream: bool = True,
    reset_tool_choice: bool = True,
    concurrent: bool = True,
    tool_message_name: bool = True,
    **request_fields: Any,
) -> ToolEvents | AsyncToolEvents:
    """The loop of ``run_tools`` as events: ``TextDelta``, ``ToolCallRequested``,
    ``ToolCallFinished``, ``StepFinished``. Streams by default. With an async client it returns an
    async iterator. After the last event, ``.result`` holds the ``ToolRunResult``.

        events = iter_tools(client, model, messages, [get_weather])
        for event in events:
            if isinstance(event, TextDelta):
                print(event.text, end="")
        print(events.result.final_text)
    """
    loop = LoopState(model, messages, tools, functions=functions, max_steps=max_steps, stream=stream,
                 reset_tool_choice=reset_tool_choice, concurrent=concurrent,
                 tool_message_name=tool_message_name, request_fields=request_fields)
    if _is_async_client(client):
        return AsyncToolEvents(loop, _drive_async(loop, client))
    return ToolEvents(loop, _drive(loop, client))


def aiter_tools(client: Any, model: str, messages: Iterable[Mapping[str, Any] | Any], tools: ToolsArg,
                **options: Any) -> AsyncToolEvents:
    """``iter_tools`` for an async client, always an async iterator."""
    if not _is_async_client(client):
        raise TypeError("aiter_tools needs an async client (AsyncOpenAI); use iter_tools with OpenAI")
    events = iter_tools(client, model, messages, tools, **options)
    assert isinstance(events, AsyncToolEvents)
    return events


class ToolEvents(Iterator[RunEvent]):
    """Events of a running loop; ``result`` is set once they are exhausted."""

    def __init__(self, loop: LoopState, events: Iterator[RunEvent]):
        self._loop = loop
        self._events = events

    def __iter__(self) -> ToolEvents:
        return self

    def __next__(self) -> RunEvent:
        return next(self._events)

    @property
    def result(self) -> ToolRunResult | None:
        return self._loop.result() if self._loop.finished else None

    def run(self) -> ToolRunResult:
        """Consume the remaining events and return the result."""
        for _ in self:
            pass
        return self._loop.result()

    def close(self) -> None:
        """Stop early (closes an open stream); ``result`` stays None."""
        close = getattr(self._events, "close", None)
        if close is not None:
            close()


class AsyncToolEvents(AsyncIterator[RunEvent]):
    """Async events of a running loop; ``result`` is set once they are exhausted."""

    def __init__(self, loop: LoopState, events: AsyncIterator[RunEvent]):
        self._loop = loop
        self._events = events

    def __aiter__(self) -> AsyncToolEvents:
        return self

    async def __anext__(self) -> RunEvent:
        return await self._events.__anext__()

    @property
    def result(self) -> ToolRunResult | None:
        return self._loop.result() if self._loop.finished else None

    async def run(self) -> ToolRunResult:
        async for _ in self:
            pass
        return self._loop.result()

    async def aclose(self) -> None:
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()


def _drive(loop: LoopState, client: Any) -> Iterator[RunEvent]:
    create = client.chat.completions.create
    while not loop.finished:
        index = len(loop.steps)
        fields = loop.request()
        if loop.stream:
            assembler = StreamAssembler()
            chunks = create(**fields)
            try:
                for chunk in chunks:
                    for event in assembler.feed(chunk):
                        if isinstance(event, ContentDelta) and event.choice == 0:
                            yield TextDelta(event.text, index)
            finally:
                _close(chunks)
            reply = Reply.from_stream(assembler.choice(0), assembler.usage)
        else:
            reply = Reply.from_completion(create(**fields))
            if reply.content:
                yield TextDelta(reply.content, index)
        step = loop.take_reply(reply, fields.get("tool_choice"))
        for call in step.tool_calls:
            yield ToolCallRequested(call, index)
        if step.tool_calls:
            executions = execute_calls(step.tool_calls, loop.toolbox, step=index, concurrent=loop.concurrent)
            loop.take_executions(step, executions)
            for execution in executions:
                yield ToolCallFinished(execution)
        yield StepFinished(step)


async def _drive_async(loop: LoopState, client: Any) -> AsyncIterator[RunEvent]:
    create = client.chat.completions.create
    while not loop.finished:
        index = len(loop.steps)
        fields = loop.request()
        if loop.stream:
            assembler = StreamAssembler()
            chunks = await create(**fields)
            try:
                async for chunk in chunks:
                    for event in assembler.feed(chunk):
                        if isinstance(event, ContentDelta) and event.choice == 0:
                            yield TextDelta(event.text, index)
            finally:
                closing = _close(chunks)
                if inspect.isawaitable(closing):
                    await closing
            reply = Reply.from_stream(assembler.choice(0), assembler.usage)
        else:
            reply = Reply.from_completion(await create(**fields))
            if reply.content:
                yield TextDelta(reply.content, index)
        step = loop.take_reply(reply, fields.get("tool_choice"))
        for call in step.tool_calls:
            yield ToolCallRequested(call, index)
        if step.tool_calls:
            executions = await aexecute_calls(step.tool_calls, loop.toolbox, step=index,
                                              concurrent=loop.concurrent)
            loop.take_executions(step, executions)
            for execution in executions:
                yield ToolCallFinished(execution)
        yield StepFinished(step)


async def _drain_async(events: AsyncIterator[RunEvent], loop: LoopState,
                       on_text: TextCallback | None) -> ToolRunResult:
    async for event in events:
        if on_text is not None and isinstance(event, TextDelta):
            outcome = on_text(event.text)
            if inspect.isawaitable(outcome):
                await outcome
    return loop.result()


# --- helpers ------------------------------------------------------------------------------------


def _is_async_client(client: Any) -> bool:
    try:
        create = client.chat.completions.create
    except AttributeError:
        raise TypeError(f"not an OpenAI-style client (no chat.completions.create): {client!r}") from None
    return inspect.iscoroutinefunction(inspect.unwrap(create))


def _close(chunks: Any) -> Any:
    close = getattr(chunks, "close", None)
    return close() if close is not None else None
