"""Execute the calls of one reply: independent calls run concurrently, failures become results.

Whatever goes wrong with a call (a name no tool has, arguments that are not a JSON object or do not
match the schema, an exception inside the function) becomes a ``tool`` message the model can read,
``{"error": "...", "success": false}``, rather than an exception in the caller's loop.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pydantic_core import to_jsonable_python

from toolwire.client.results import ToolCall, ToolExecution
from toolwire.client.tools import Tool, Toolbox, ToolArgumentsError, parse_arguments

MAX_THREADS = 16


def error_content(message: str) -> str:
    return json.dumps({"error": message, "success": False}, ensure_ascii=False)


def result_content(value: Any) -> str:
    """A function's return value as ``tool`` message content: a str as is, anything else as JSON
    (pydantic models, dataclasses, enums and dates included; unknown objects as their str)."""
    if isinstance(value, str):
        return value
    return json.dumps(to_jsonable_python(value, fallback=str), ensure_ascii=False)


@dataclass
class _Ready:
    """A call whose tool was found and whose arguments validated."""

    execution: ToolExecution
    tool: Tool[..., Any]
    values: dict[str, Any]


def _prepare(call: ToolCall, toolbox: Toolbox, step: int) -> _Ready | ToolExecution:
    execution = ToolExecution(call.id, call.name, call.arguments, None, step=step)
    tool = toolbox.get(call.name)
    if tool is None:
        known = ", ".join(toolbox.tools) or "none"
        return _failed(execution, f"Unknown function: {call.name!r}. Available tools: {known}.")
    try:
        execution.args = parse_arguments(call.arguments)
        values = tool.validate(execution.args)
    except ToolArgumentsError as exc:
        return _failed(execution, f"Invalid arguments for {call.name}: {exc}")
    if tool.function is None:
        return _failed(execution, f"The tool {call.name!r} has no implementation on this client.")
    return _Ready(execution, tool, values)


def _failed(execution: ToolExecution, message: str) -> ToolExecution:
    execution.error = message
    execution.content = error_content(message)
    return execution


def _finish(ready: _Ready, value: Any = None, exc: BaseException | None = None) -> ToolExecution:
    execution = ready.execution
    if exc is not None:
        return _failed(execution, f"{execution.name} raised {type(exc).__name__}: {exc}")
    try:
        execution.content = result_content(value)
    except Exception as error:  # a result that cannot be written as JSON at all
        return _failed(execution, f"{execution.name} returned a result that is not JSON: {error}")
    execution.result = value
    return execution


def _call_blocking(ready: _Ready) -> ToolExecution:
    """Run one call to completion on this thread (an async tool gets its own event loop)."""
    try:
        value = ready.tool._call_validated(ready.values)
        if inspect.isawaitable(value):
            value = asyncio.run(_awaited(value))
    except Exception as exc:
        return _finish(ready, exc=exc)
    return _finish(ready, value)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def execute_calls(
    calls: list[ToolCall], toolbox: Toolbox, *, step: int = 0, concurrent: bool = True
) -> list[ToolExecution]:
    """Execute ``calls`` (sync tools on threads, async tools each on its own event loop in a
    thread); results come back in the order of ``calls`` whatever order they finish in."""
    prepared = [_prepare(call, toolbox, step) for call in calls]
    ready = [item for item in prepared if isinstance(item, _Ready)]
    # A single sync call runs right here; anything else uses worker threads, which also keeps
    # asyncio.run away from a caller's thread that may already have a running event loop.
    if len(ready) == 1 and not ready[0].tool.is_async:
        done = {id(ready[0]): _call_blocking(ready[0])}
    elif ready:
        workers = min(len(ready), MAX_THREADS) if concurrent else 1
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="toolwire-tool") as pool:
            done = {id(item): execution for item, execution in zip(ready, pool.map(_call_blocking, ready))}
    else:
        done = {}
    return [done[id(item)] if isinstance(item, _Ready) else item for item in prepared]


async def aexecute_calls(
    calls: list[ToolCall], toolbox: Toolbox, *, step: int = 0, concurrent: bool = True
) -> list[ToolExecution]:
    """Execute ``calls`` from async code: async tools together under ``asyncio.gather``, sync
    tools on threads (``asyncio.to_thread``) at the same time; results in the order of ``calls``."""

    async def run(item: _Ready | ToolExecution) -> ToolExecution:
        if not isinstance(item, _Ready):
            return item
        try:
            if item.tool.is_async:
                value = await item.tool._call_validated(item.values)
            else:
                value = await asyncio.to_thread(item.tool._call_validated, item.values)
                if inspect.isawaitable(value):
                    value = await value
        except Exception as exc:
            return _finish(item, exc=exc)
        return _finish(item, value)

    prepared = [_prepare(call, toolbox, step) for call in calls]
    if concurrent:
        return list(await asyncio.gather(*(run(item) for item in prepared)))
    return [await run(item) for item in prepared]
