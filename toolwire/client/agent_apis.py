"""The guide's tool loop through the APIs agents speak: OpenAI Responses and Anthropic Messages.

Each loop asks the model, runs the tools it calls, sends their results back, and stops at a reply
without calls (or after `max_steps`). Both print the same transcript lines the chat-completions demo
prints; `toolwire demo --api responses|messages` runs them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from toolwire.client.tools import Tool


@dataclass
class LoopSettings:
    prompt: str
    tool_choice: str  # auto | required | none | a tool's name; the first turn only
    stream: bool
    max_steps: int
    max_tokens: int
    temperature: float


@dataclass
class LoopSummary:
    steps: int
    executions: list[tuple[str, bool]]  # (tool name, ran without error)
    finished: bool  # ended on a reply without calls


def run_tool(tools: Sequence[Tool], name: str, arguments: Any) -> tuple[str, bool]:
    """The tool's result as text, and whether it ran; an unknown tool or bad arguments is an error text."""
    found = next((t for t in tools if t.name == name), None)
    if found is None:
        return f"error: no tool named {name!r}", False
    try:
        return json.dumps(found.invoke(arguments), ensure_ascii=False), True
    except Exception as exc:  # the model's arguments, the tool's own failure: both go back to the model
        return f"error: {exc}", False


def responses_loop(client: Any, model: str, tools: Sequence[Tool], settings: LoopSettings,
                   out: TextIO) -> LoopSummary:
    """The loop through `client.responses` (an `openai.OpenAI`)."""
    definitions = [{"type": "function", **t.definition["function"]} for t in tools]
    items: list[Any] = [{"role": "user", "content": settings.prompt}]
    summary = LoopSummary(0, [], False)
    for step in range(settings.max_steps):
        choice = settings.tool_choice if step == 0 else "auto"
        fields = dict(model=model, input=items, tools=definitions, max_output_tokens=settings.max_tokens,
                      temperature=settings.temperature, store=False,
                      tool_choice=choice if choice in ("auto", "required", "none") else
                      {"type": "function", "name": choice})
        if settings.stream:
            with client.responses.stream(**fields) as stream:
                _print_text(out, (event.delta for event in stream if event.type == "response.output_text.delta"))
                response = stream.get_final_response()
        else:
            response = client.responses.create(**fields)
            _print_text(out, [response.output_text])
        summary.steps += 1
        items += [item.model_dump(exclude_none=True) for item in response.output if item.type != "reasoning"]
        calls = [item for item in response.output if item.type == "function_call"]
        if not calls:
            summary.finished = True
            break
        for call in calls:
            print(f"assistant: [tool_call {call.call_id}] {call.name}({call.arguments})", file=out)
            result, ran = run_tool(tools, call.name, call.arguments)
            print(f"tool [{call.call_id}] {call.name}: {result}", file=out)
            summary.executions.append((call.name, ran))
            items.append({"type": "function_call_output", "call_id": call.call_id, "output": result})
    return summary


def messages_loop(client: Any, model: str, tools: Sequence[Tool], settings: LoopSettings,
                  out: TextIO) -> LoopSummary:
    """The loop through `client.messages` (an `anthropic.Anthropic`)."""
    definitions = [{"name": t.name, "description": t.definition["function"].get("description", ""),
                    "input_schema": t.definition["function"]["parameters"]} for t in tools]
    choices = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}
    messages: list[dict[str, Any]] = [{"role": "user", "content": settings.prompt}]
    summary = LoopSummary(0, [], False)
    for step in range(settings.max_steps):
        choice = settings.tool_choice if step == 0 else "auto"
        # The SDK no longer takes temperature as an argument; the API (and toolwire) still do.
        fields = dict(model=model, messages=messages, tools=definitions, max_tokens=settings.max_tokens,
                      extra_body={"temperature": settings.temperature},
                      tool_choice=choices.get(choice, {"type": "tool", "name": choice}))
        if settings.stream:
            with client.messages.stream(**fields) as stream:
                _print_text(out, stream.text_stream)
                message = stream.get_final_message()
        else:
            message = client.messages.create(**fields)
            _print_text(out, [block.text for block in message.content if block.type == "text"])
        summary.steps += 1
        messages.append({"role": "assistant", "content": [block.model_dump(exclude_none=True)
                                                          for block in message.content if block.type != "thinking"]})
        uses = [block for block in message.content if block.type == "tool_use"]
        if not uses:
            summary.finished = True
            break
        results = []
        for use in uses:
            print(f"assistant: [tool_use {use.id}] {use.name}({json.dumps(use.input, ensure_ascii=False)})", file=out)
            result, ran = run_tool(tools, use.name, use.input)
            print(f"tool [{use.id}] {use.name}: {result}", file=out)
            summary.executions.append((use.name, ran))
            results.append({"type": "tool_result", "tool_use_id": use.id, "content": result, "is_error": not ran})
        messages.append({"role": "user", "content": results})
    return summary


def _print_text(out: TextIO, pieces) -> None:
    started = False
    for piece in pieces:
        if not piece:
            continue
        if not started:
            print("assistant: ", end="", file=out)
            started = True
        print(piece, end="", file=out, flush=True)
    if started:
        print(file=out)
