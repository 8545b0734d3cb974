"""Sending BFCL entries to an OpenAI-compatible server and judging the replies.

Each entry becomes one chat-completions request: the first turn's messages, the entry's functions as
tools (schema converted, names made OpenAI-legal), `tool_choice` (by default `required`, and `auto`
in the relevance categories, where deciding whether to call is the test), greedy by default. The
reply's `tool_calls` are mapped back to BFCL names, their arguments parsed, checked against the
converted schema (jsonschema) and judged.
With `stream=True` the reply is requested as SSE and assembled by `toolwire.client.stream`.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import jsonschema

from toolwire.client.stream import StreamAssembler
from toolwire.evals.bfcl.checker import Call, judge
from toolwire.evals.bfcl.data import RELEVANCE_CATEGORIES, BfclEntry
from toolwire.evals.bfcl.schema import ToolNames, to_openai_tools
from toolwire.evals.progress import ProgressBar
from toolwire.evals.wire import DONE, StreamError, error_kind, error_message, sse_payloads


@dataclass
class EvalConfig:
    base_url: str
    model: str
    tool_choice: str | None = None  # None: required, auto in the relevance categories
    strict: bool = False
    temperature: float = 0.0
    max_tokens: int = 512
    concurrency: int = 1
    timeout_s: float = 600.0
    stream: bool = False
    headers: dict[str, str] = field(default_factory=dict)

    def tool_choice_for(self, entry: BfclEntry) -> str:
        if self.tool_choice:
            return self.tool_choice
        return "auto" if entry.category in RELEVANCE_CATEGORIES else "required"


@dataclass
class EntryResult:
    """One entry's outcome; `to_json` is its line in the --output file."""

    id: str
    category: str
    request: dict[str, Any]
    message: dict[str, Any] | None = None
    finish_reason: str | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    verdict: str = "error"  # correct | wrong | error (no usable response)
    reason: str = ""
    latency_s: float | None = None
    completion_tokens: int | None = None  # the reply's length as the server's usage counts it
    http_status: int | None = None
    error_kind: str | None = None
    schema_valid: bool = False  # at least one call, and every call valid against its tool's schema

    @property
    def correct(self) -> bool:
        return self.verdict == "correct"

    @property
    def http_error(self) -> bool:
        return self.verdict == "error"

    @property
    def truncated(self) -> bool:
        """The reply was cut by max_tokens (a call cut short cannot match its schema)."""
        return self.finish_reason == "length"

    @property
    def no_call(self) -> bool:
        return self.verdict != "error" and not self.calls

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def build_request(entry: BfclEntry, config: EvalConfig) -> tuple[dict[str, Any], ToolNames]:
    """The request body; an entry without functions (a few of live_irrelevance) sends no tools."""
    tools, names = to_openai_tools(entry.functions, strict=config.strict)
    body: dict[str, Any] = {"model": config.model, "messages": entry.messages}
    if tools:
        body.update(tools=tools, tool_choice=config.tool_choice_for(entry))
    body.update(temperature=config.temperature, max_tokens=config.max_tokens)
    if config.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body, names


def request_summary(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": body["model"],
        "messages": len(body["messages"]),
        "tools": [t["function"]["name"] for t in body.get("tools", ())],
        "tool_choice": body.get("tool_choice"),
        "strict": any(t["function"].get("strict") for t in body.get("tools", ())),
        "temperature": body["temperature"],
        "max_tokens": body["max_tokens"],
        "stream": bool(body.get("stream")),
    }


def parse_calls(message: dict[str, Any], names: ToolNames,
                tools: list[dict[str, Any]]) -> tuple[list[Call], list[dict[str, Any]], bool]:
    """The message's calls (BFCL names, parsed arguments), their records for the output file, and
    whether there is at least one call and every one is valid against its tool's converted schema."""
    schemas = {names.to_bfcl(t["function"]["name"]): t["function"]["parameters"] for t in tools}
    calls: list[Call] = []
    records: list[dict[str, Any]] = []
    all_valid = True
    for raw in message.get("tool_calls") or ():
        function = raw.get("function") or {}
        sent_name = function.get("name") or ""
        name = names.to_bfcl(sent_name)
        text = function.get("arguments")
        record: dict[str, Any] = {"name": name, "sent_name": sent_name}
        problem = None
        if isinstance(text, dict):  # a few servers send an object, not the spec's string
            arguments: Any = text
        else:
            try:
                arguments = json.loads(text if isinstance(text, str) else "")
            except json.JSONDecodeError:
                arguments, problem = None, "arguments are not valid JSON"
                record["raw_arguments"] = text
        if problem is None:
            if name not in schemas:
                problem = f"no tool named {sent_name!r} was offered"
            elif not isinstance(arguments, dict):
                problem = "arguments are not a JSON object"
            else:
                error = jsonschema.exceptions.best_match(
                    jsonschema.Draft202012Validator(schemas[name]).iter_errors(arguments))
                if error is not None:
                    problem = f"schema: {error.message}"
        all_valid = all_valid and problem is None
        calls.append(Call(name, arguments))
        records.append({**record, "arguments": arguments, "schema_valid": problem is None,
                        "schema_problem": problem})
    return calls, records, bool(calls) and all_valid


async def evaluate_entry(client: httpx.AsyncClient, entry: BfclEntry, config: EvalConfig) -> EntryResult:
    body, names = build_request(entry, config)
    result = EntryResult(id=entry.id, category=entry.category, request=request_summary(body))
    started = time.perf_counter()
    try:
        message, result.finish_reason, status, result.completion_tokens = await _send(client, body, config)
        result.http_status = status
    except httpx.HTTPStatusError as exc:
        result.latency_s = time.perf_counter() - started
        result.http_status = exc.response.status_code
        result.error_kind = error_kind(exc)
        result.reason = f"HTTP {exc.response.status_code}: {error_message(exc.response)}"
        return result
    except (httpx.HTTPError, StreamError, json.JSONDecodeError, ValueError) as exc:
        result.latency_s = time.perf_counter() - started
        result.error_kind = error_kind(exc)
        result.reason = f"{result.error_kind}: {exc}"
        return result
    result.latency_s = time.perf_counter() - started
    result.message = message
    calls, result.calls, result.schema_valid = parse_calls(message, names, body.get("tools", []))
    verdict = judge(entry.category, entry.functions, entry.ground_truth, calls)
    result.verdict = "correct" if verdict.correct else "wrong"
    result.reason = verdict.reason
    return result


async def _send(client: httpx.AsyncClient, body: dict[str, Any],
                config: EvalConfig) -> tuple[dict[str, Any], str | None, int, int | None]:
    """The first choice's message and finish_reason, the HTTP status, and usage's completion_tokens."""
    url = f"{config.base_url}/chat/completions"
    if not body.get("stream"):
        response = await client.post(url, json=body, headers=config.headers)
        if response.status_code >= 400:
            response.raise_for_status()
        reply = response.json()
        choices = reply.get("choices") or []
        if not choices or not isinstance(choices[0].get("message"), dict):
            raise ValueError("the response has no choices[0].message")
        return choices[0]["message"], choices[0].get("finish_reason"), response.status_code, _completion_tokens(reply)
    assembler = StreamAssembler()
    tokens = None
    async with client.stream("POST", url, json=body, headers=config.headers) as response:
        if response.status_code >= 400:
            await response.aread()
            response.raise_for_status()
        async for payload in sse_payloads(response):
            if payload is DONE:
                break
            assembler.feed(payload)
            tokens = _completion_tokens(payload) if isinstance(payload, dict) and payload.get("usage") else tokens
    first = assembler.choices.get(0)
    return assembler.message(), first.finish_reason if first else None, response.status_code, tokens


def _completion_tokens(reply: dict[str, Any]) -> int | None:
    tokens = (reply.get("usage") or {}).get("completion_tokens")
    return tokens if isinstance(tokens, int) else None


async def run_entries(entries: list[BfclEntry], config: EvalConfig, *, progress: bool = True) -> list[EntryResult]:
    """Every entry, `config.concurrency` at a time; results in the entries' order."""
    bar = ProgressBar(len(entries), "bfcl", enabled=progress)
    semaphore = asyncio.Semaphore(max(1, config.concurrency))
    connections = max(1, config.concurrency)
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    timeout = httpx.Timeout(config.timeout_s, connect=min(30.0, config.timeout_s))
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        async def one(entry: BfclEntry) -> EntryResult:
            async with semaphore:
                result = await evaluate_entry(client, entry, config)
            bar.advance(ok=result.verdict != "error")
            return result

        try:
            return list(await asyncio.gather(*(one(entry) for entry in entries)))
        finally:
            bar.close()
