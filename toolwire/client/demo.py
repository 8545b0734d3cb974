"""`toolwire demo`: the tool-calling guide's weather example, end to end, printing the transcript.

    toolwire demo                                   # http://localhost:8000/v1, or a local server
    toolwire demo --base-url http://host:8000/v1 --model NAME --api-key KEY
    toolwire demo --in-process --tool-choice required --stream
    toolwire demo --api responses                   # the same loop through /v1/responses (or: messages)

Without ``--in-process`` the demo talks to ``--base-url``; when nothing answers there, it starts
``toolwire serve`` (the default model) as a subprocess on a free loopback port and stops it after.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Literal, TextIO

import httpx

from toolwire.client.agent_apis import LoopSettings, messages_loop, responses_loop
from toolwire.client.local_server import LocalServer, ServerStartError
from toolwire.client.loop import ToolEvents, iter_tools
from toolwire.client.results import StepFinished, TextDelta, ToolCallFinished, ToolCallRequested
from toolwire.client.tools import tool

DEFAULT_BASE_URL = "http://localhost:8000/v1"
DEFAULT_PROMPT = "What's the weather in San Francisco?"


@tool
def get_weather(location: str, unit: Literal["celsius", "fahrenheit"] = "fahrenheit") -> dict[str, Any]:
    """Get the current weather for a location.

    Args:
        location: City name, e.g. 'San Francisco'
        unit: Temperature unit. Defaults to fahrenheit.
    """
    # In a real app this would call a weather API.
    return {"temperature": 62, "unit": unit, "condition": "fog", "location": location}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="toolwire demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, help=f"default {DEFAULT_BASE_URL}")
    parser.add_argument("--model", help="model id (default: the server's first model); with "
                        "--in-process, the MODEL given to `toolwire serve`")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "none"),
                        help="default $OPENAI_API_KEY, else 'none'")
    parser.add_argument("--in-process", action="store_true",
                        help="start `toolwire serve` on a free loopback port instead of using --base-url")
    parser.add_argument("--tool-choice", default="auto",
                        help="auto | required | none | get_weather (forces the first turn only)")
    parser.add_argument("--stream", action="store_true", help="stream the replies")
    parser.add_argument("--api", choices=["chat", "responses", "messages"], default="chat",
                        help="chat completions (default), OpenAI Responses, or Anthropic Messages (needs the "
                             "anthropic SDK)")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    parser.add_argument("--max-steps", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="also print the transcript as JSON messages")
    parser.add_argument("--server-timeout", type=float, default=600.0,
                        help="seconds to wait for a started server to become healthy")
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    args = _parser().parse_args(argv)
    out = out or sys.stdout
    try:
        from openai import APIError, OpenAI
    except ImportError:
        print("toolwire demo needs the OpenAI SDK: pip install openai", file=sys.stderr)
        return 2

    server: LocalServer | None = None
    base_url = args.base_url.rstrip("/")
    try:
        if args.in_process or not _answers(base_url, args.api_key):
            if not args.in_process:
                print(f"# no server answers at {base_url}; starting `toolwire serve`", file=sys.stderr)
            server = LocalServer(args.model, startup_timeout=args.server_timeout)
            print(f"# starting {' '.join(server.command[1:])} ...", file=sys.stderr)
            server.start()
            base_url = server.base_url
            print(f"# serving at {base_url}", file=sys.stderr)
        client = OpenAI(base_url=base_url, api_key=args.api_key)
        model = args.model if args.model and server is None else client.models.list().data[0].id
        if args.api == "chat":
            return _run(client, model, args, out)
        return _run_agent_api(client, base_url, model, args, out)
    except ServerStartError as exc:
        print(f"toolwire demo: could not start a server: {exc}", file=sys.stderr)
        return 1
    except APIError as exc:
        print(f"toolwire demo: the server answered with an error: {exc}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()


def _run_agent_api(client: Any, base_url: str, model: str, args: argparse.Namespace, out: TextIO) -> int:
    settings = LoopSettings(args.prompt, args.tool_choice, args.stream, args.max_steps, args.max_tokens,
                            args.temperature)
    print(f"# model {model} through {args.api}, tool_choice {args.tool_choice} (first turn), "
          f"{'streaming' if args.stream else 'not streaming'}", file=out)
    print(f"user: {args.prompt}", file=out)
    if args.api == "responses":
        summary = responses_loop(client, model, [get_weather], settings, out)
    else:
        try:
            from anthropic import Anthropic
        except ImportError:
            print("toolwire demo --api messages needs the Anthropic SDK: pip install anthropic", file=sys.stderr)
            return 2
        root = base_url.removesuffix("/v1")  # the SDK adds /v1/messages itself
        summary = messages_loop(Anthropic(base_url=root, api_key=args.api_key), model, [get_weather], settings, out)
    failed = sum(not ran for _, ran in summary.executions)
    print(f"# {summary.steps} model call(s), {len(summary.executions)} tool execution(s) ({failed} failed), "
          f"{'finished with a text reply' if summary.finished else 'cut off at --max-steps'}", file=out)
    return 0


def _answers(base_url: str, api_key: str) -> bool:
    """Does an HTTP server answer at ``base_url`` at all (any status counts)?"""
    try:
        httpx.get(f"{base_url}/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=5.0)
    except httpx.HTTPError:
        return False
    return True


def _run(client: Any, model: str, args: argparse.Namespace, out: TextIO) -> int:
    messages = [{"role": "user", "content": args.prompt}]
    fields: dict[str, Any] = {"tool_choice": args.tool_choice, "temperature": args.temperature,
                              "max_tokens": args.max_tokens}
    if args.seed is not None:
        fields["seed"] = args.seed
    print(f"# model {model}, tool_choice {args.tool_choice} (first turn), "
          f"{'streaming' if args.stream else 'not streaming'}", file=out)
    print(f"user: {args.prompt}", file=out)
    events = iter_tools(client, model, messages, [get_weather], max_steps=args.max_steps,
                        stream=args.stream, **fields)
    assert isinstance(events, ToolEvents)
    in_text = False
    for event in events:
        if isinstance(event, TextDelta):
            if not in_text:
                print("assistant: ", end="", file=out)
                in_text = True
            print(event.text, end="", file=out, flush=True)
            continue
        if in_text:
            print(file=out)
            in_text = False
        if isinstance(event, ToolCallRequested):
            print(f"assistant: [tool_call {event.call.id}] {event.call.name}({event.call.arguments})", file=out)
        elif isinstance(event, ToolCallFinished):
            e = event.execution
            print(f"tool [{e.call_id}] {e.name}: {e.content}", file=out)
        elif isinstance(event, StepFinished) and not event.step.tool_calls and not event.step.text:
            print("assistant: (empty reply)", file=out)
    if in_text:
        print(file=out)
    result = events.result
    assert result is not None
    executions = result.executions
    print(f"# {len(result.steps)} model call(s), {len(executions)} tool execution(s) "
          f"({sum(not e.ok for e in executions)} failed), "
          f"{'cut off at --max-steps' if result.cut_off else 'finished with a text reply'}", file=out)
    if not any(e.ok and e.name == "get_weather" for e in executions):
        if args.tool_choice in ("auto", "none"):
            print("# the model did not get to run get_weather; try --tool-choice required", file=out)
        elif not result.steps[0].tool_calls:
            print(f"# the server answered tool_choice={args.tool_choice} with text: it did not enforce "
                  "the forced call", file=out)
    if args.json:
        print(json.dumps(result.messages, indent=2, ensure_ascii=False), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
