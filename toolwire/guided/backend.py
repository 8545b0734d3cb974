"""The grammar backend: compiles grammar requests for one tokenizer and makes per-sequence matchers.

`GrammarBackend` is the seam that would let another engine (llguidance, outlines) replace xgrammar:
it compiles a `GrammarRequest` into an opaque compiled grammar and turns that into a fresh
`TokenConstraint` (the engine's hook) per sequence. `XGrammarBackend` is the one we ship.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from typing import Any, Callable, Protocol

from toolwire.guided.closing import ShortestCompletion
from toolwire.guided.constraint import XGrammarConstraint
from toolwire.guided.errors import GuidedDecodingError
from toolwire.guided.repetition import RepetitionGuard
from toolwire.formats.grammar import MAX_JSON_WHITESPACE
from toolwire.guided.structure import GrammarRequest
from toolwire.guided.token_masks import TokenMasks


class GrammarBackend(Protocol):
    name: str
    # Identifies the vocabulary (and stop tokens) that compiled grammars depend on: a cache key part.
    tokenizer_key: str
    vocab_size: int

    def compile(self, request: GrammarRequest) -> Any:
        """Compile, or raise GuidedDecodingError."""

    def new_constraint(self, compiled: Any, repetition_guard: RepetitionGuard | None = None,
                       closing: ShortestCompletion | None = None) -> Any:
        """A fresh per-sequence constraint (fill_bitmask / accept_token / is_terminated); `closing`:
        how it completes the output within its token budget (None: it does not)."""


class XGrammarBackend:
    name = "xgrammar"

    def __init__(self, tokenizer_info: Any, tokenizer_key: str, *, max_threads: int = 2,
                 encode: Callable[[str], list[int]] | None = None):
        """`encode`: text -> the tokenizer's token ids (no special tokens added), for completions."""
        import xgrammar as xgr

        self.encode = encode
        self.token_masks = TokenMasks(tokenizer_info.decoded_vocab)
        self.tokenizer_info = tokenizer_info
        self.tokenizer_key = tokenizer_key
        self.vocab_size = tokenizer_info.vocab_size
        self.stop_token_ids = list(tokenizer_info.stop_token_ids)
        # Our own cache (GrammarCache) holds compiled grammars with an LRU bound; xgrammar's would
        # keep a second, unbounded copy.
        self._compiler = xgr.GrammarCompiler(tokenizer_info, max_threads=max_threads, cache_enabled=False)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, *, vocab_size: int | None = None,
                       stop_token_ids: list[int] | None = None, max_threads: int = 2) -> "XGrammarBackend":
        """One backend per (tokenizer, vocab size, stop tokens), built once and then shared.

        `vocab_size` is the model's (its lm_head rows, which may exceed the tokenizer's vocabulary);
        `stop_token_ids` the tokens that may end a reply (default: the tokenizer's EOS).
        """
        stops = tuple(sorted(set(stop_token_ids))) if stop_token_ids else None
        key = (id(tokenizer), vocab_size, stops, max_threads)
        with _backends_lock:
            entry = _backends.get(key)
            if entry is not None and entry[0] is tokenizer:
                return entry[1]
        import xgrammar as xgr

        if stops is None:
            eos = getattr(tokenizer, "eos_token_id", None)
            if eos is None:
                raise GuidedDecodingError("the tokenizer has no EOS token: pass stop_token_ids")
            stops = (eos,) if isinstance(eos, int) else tuple(eos)
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size, stop_token_ids=list(stops))
        backend = cls(info, _tokenizer_key(tokenizer, info), max_threads=max_threads,
                      encode=lambda text: tokenizer.encode(text, add_special_tokens=False))
        with _backends_lock:
            _backends[key] = (tokenizer, backend)  # keeps the tokenizer alive, so its id stays its own
        return backend

    def compile(self, request: GrammarRequest) -> Any:
        compiler = self._compiler
        try:
            if request.kind == "structural_tag":
                return compiler.compile_structural_tag(request.source)
            if request.kind == "json_schema":
                return compiler.compile_json_schema(request.source, any_whitespace=True,
                                                    max_whitespace_cnt=MAX_JSON_WHITESPACE)
            if request.kind == "regex":
                return compiler.compile_regex(request.source)
            if request.kind == "ebnf":
                return compiler.compile_grammar(request.source)
            if request.kind == "lark":
                return compiler.compile_lark(request.source)
        except Exception as exc:  # xgrammar raises RuntimeError, ValueError and its own error types
            raise GuidedDecodingError(_first_line(exc)) from exc
        raise ValueError(f"unknown grammar kind {request.kind!r}")

    def check_json_schema(self, schema: Any) -> None:
        """Raise GuidedDecodingError if `schema` alone cannot be compiled (finds the culprit tool)."""
        import xgrammar as xgr

        try:
            xgr.Grammar.from_json_schema(json.dumps(schema), any_whitespace=True)
        except Exception as exc:
            raise GuidedDecodingError(_first_line(exc)) from exc

    def new_constraint(self, compiled: Any, repetition_guard: RepetitionGuard | None = None,
                       closing: ShortestCompletion | None = None) -> XGrammarConstraint:
        return XGrammarConstraint(compiled, self.stop_token_ids, self.vocab_size, repetition_guard, closing,
                                  self.token_masks)


_backends: dict[tuple, tuple[Any, XGrammarBackend]] = {}
_backends_lock = threading.Lock()


def _tokenizer_key(tokenizer: Any, info: Any) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(info.dump_metadata()).encode())
    for token_id, token in sorted((i, t) for t, i in tokenizer.get_vocab().items()):
        digest.update(f"{token_id}\x00{token}\x01".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


_SOURCE_PREFIX = re.compile(r"^\[[0-9:]+\] \S+:[0-9]+: ")  # "[14:16:55] /project/cpp/x.cc:83: "


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return _SOURCE_PREFIX.sub("", text.splitlines()[0])[:500]
