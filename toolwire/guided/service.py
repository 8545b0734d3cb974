"""GuidedDecoding: compiles specs off the engine loop, caches them, and hands out constraints.

One instance per served tokenizer. Compiles run on a small thread pool and come back as futures, so
neither the HTTP event loop nor the engine loop waits on them; the same spec asked for twice (even
while its first compile is still running) compiles once. Compiled grammars live in an LRU cache
keyed by (tokenizer key, canonical spec JSON).

    guided = GuidedDecoding.for_tokenizer(tokenizer, vocab_size=model_vocab_size)
    compiled = await guided.compile_async(spec)     # GuidedDecodingError -> HTTP 400
    params.constraint_factory = compiled             # the engine calls it once per sequence
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from toolwire.guided.backend import GrammarBackend, XGrammarBackend
from toolwire.guided.closing import ShortestCompletion
from toolwire.guided.errors import GuidedDecodingError
from toolwire.guided.repetition import RepetitionGuard
from toolwire.guided.schema import arguments_schema
from toolwire.guided.specs import GuidedSpec, JsonSpec, ToolCallsSpec, spec_key
from toolwire.guided.structure import GrammarRequest, build_grammar, call_openers

_PARAM_OF_KIND = {"json": "response_format", "regex": "guided_regex", "choice": "guided_choice",
                  "grammar": "guided_grammar"}


class CompiledConstraint:
    """A compiled spec. Calling it makes a fresh per-sequence constraint: it is a constraint factory."""

    __slots__ = ("spec", "request", "grammar", "backend", "compile_seconds", "repetition_guard", "closing",
                 "_shortest")

    def __init__(self, spec: GuidedSpec, request: GrammarRequest, grammar: Any, backend: GrammarBackend,
                 compile_seconds: float, repetition_guard: RepetitionGuard | None = None,
                 closing: ShortestCompletion | None = None):
        self.spec = spec
        self.request = request
        self.grammar = grammar
        self.backend = backend
        self.compile_seconds = compile_seconds
        self.repetition_guard = repetition_guard
        self.closing = closing
        self._shortest: int | None = None

    def __call__(self):
        return self.backend.new_constraint(self.grammar, self.repetition_guard, self.closing)

    new_constraint = __call__

    def shortest_output_tokens(self) -> int | None:
        """How many tokens a complete output takes at least, as the completion search finds it (None:
        completions are off, or none was found)."""
        if self._shortest is None and self.closing is not None:
            completion = self.closing.tokens(self.backend.new_constraint(self.grammar).matcher)
            self._shortest = -1 if completion is None else len(completion)
        return None if self._shortest in (None, -1) else self._shortest


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    errors: int = 0
    evictions: int = 0
    compile_seconds: list[float] = field(default_factory=list)


class GrammarCache:
    """An LRU of compile futures keyed by (tokenizer key, spec key); failed compiles are not kept."""

    def __init__(self, max_entries: int = 512):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str], Future] = OrderedDict()
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._entries)

    def get_or_submit(self, key: tuple[str, str], submit) -> Future:
        with self._lock:
            future = self._entries.get(key)
            if future is not None:
                self._entries.move_to_end(key)
                self.stats.hits += 1
                return future
            self.stats.misses += 1
            future = submit()
            self._entries[key] = future
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
                self.stats.evictions += 1
        future.add_done_callback(lambda done: self._settle(key, done))
        return future

    def _settle(self, key: tuple[str, str], future: Future) -> None:
        if future.cancelled() or future.exception() is not None:
            with self._lock:
                self.stats.errors += 1
                if self._entries.get(key) is future:
                    del self._entries[key]
        else:
            with self._lock:
                self.stats.compile_seconds.append(future.result().compile_seconds)
                del self.stats.compile_seconds[:-1024]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class GuidedDecoding:
    def __init__(self, backend: GrammarBackend, *, cache: GrammarCache | None = None,
                 executor: ThreadPoolExecutor | None = None, max_workers: int | None = None,
                 repetition_guard: RepetitionGuard | None = RepetitionGuard(), close_at_limit: bool = True):
        """`repetition_guard`: how constrained replies are kept from looping inside a value (None: not);
        `close_at_limit`: whether a reply near its token limit is steered onto the shortest complete
        output (see guided/closing.py)."""
        self.backend = backend
        self.repetition_guard = repetition_guard
        self.close_at_limit = close_at_limit
        self.cache = cache if cache is not None else GrammarCache()
        self._executor = executor or ThreadPoolExecutor(
            max_workers=max_workers or min(2, os.cpu_count() or 1), thread_name_prefix="toolwire-grammar")

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, *, vocab_size: int | None = None,
                      stop_token_ids: list[int] | None = None, compile_threads: int = 2,
                      **kwargs: Any) -> "GuidedDecoding":
        """`vocab_size`: the model's (lm_head rows); `stop_token_ids`: every token that ends a reply
        (the engine's EOS set; default the tokenizer's EOS); `compile_threads`: xgrammar's threads
        per compile."""
        backend = XGrammarBackend.from_tokenizer(tokenizer, vocab_size=vocab_size, stop_token_ids=stop_token_ids,
                                                 max_threads=compile_threads)
        return cls(backend, **kwargs)

    def submit(self, spec: GuidedSpec) -> Future:
        """Start compiling `spec` (or find it compiled); a future of its CompiledConstraint."""
        key = (self.backend.tokenizer_key, spec_key(spec))
        return self.cache.get_or_submit(key, lambda: self._executor.submit(self._compile, spec))

    def compile(self, spec: GuidedSpec, timeout: float | None = None) -> CompiledConstraint:
        return self.submit(spec).result(timeout)

    async def compile_async(self, spec: GuidedSpec) -> CompiledConstraint:
        return await asyncio.wrap_future(self.submit(spec))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _compile(self, spec: GuidedSpec) -> CompiledConstraint:
        started = time.perf_counter()
        request = build_grammar(spec)
        try:
            grammar = self.backend.compile(request)
        except GuidedDecodingError as exc:
            raise self._explain(spec, exc) from exc
        return CompiledConstraint(spec, request, grammar, self.backend, time.perf_counter() - started,
                                  self.repetition_guard, self._closing(spec))

    def _closing(self, spec: GuidedSpec) -> ShortestCompletion | None:
        encode = getattr(self.backend, "encode", None)
        if not self.close_at_limit or encode is None:
            return None
        tool_calls = isinstance(spec, ToolCallsSpec)
        markers = spec.format.value_end_markers if tool_calls else ()
        openers = call_openers(spec) if tool_calls and spec.mode == "auto" else ()
        return ShortestCompletion(encode, markers, getattr(self.backend, "token_masks", None), openers)

    def _explain(self, spec: GuidedSpec, exc: GuidedDecodingError) -> GuidedDecodingError:
        """The compile error, naming the tool whose schema caused it when there is one."""
        if isinstance(spec, ToolCallsSpec):
            check = getattr(self.backend, "check_json_schema", None)
            for tool in spec.callable_tools if check else ():
                try:
                    check(arguments_schema(tool, spec))
                except GuidedDecodingError as tool_exc:
                    return GuidedDecodingError(
                        f"tool {tool.name!r}: its parameters schema cannot be used for constrained "
                        f"decoding: {tool_exc}", tool=tool.name, param="tools")
            return GuidedDecodingError(f"the tool-call grammar cannot be compiled: {exc}", param="tools")
        param = _PARAM_OF_KIND.get(spec.kind)
        what = "response_format schema" if isinstance(spec, JsonSpec) else param
        return GuidedDecodingError(f"the {what} cannot be compiled: {exc}", param=param)
