"""Constrained decoding: tool calls in each family's own format, JSON, regex, choice and grammars.

How the server uses it (once per served tokenizer, then per request):

    guided = GuidedDecoding.for_tokenizer(tokenizer, vocab_size=model_vocab_size)
    spec = spec_from_request(request, family,   # the tool parser's family
                             reasoning=reasoning_parser.reasoning_region(request, prompt_text))
    if spec is not None:
        compiled = await guided.compile_async(spec)   # GuidedDecodingError -> 400
        sampling_params.constraint_factory = compiled  # engine: one constraint per sequence

Each constraint implements the engine's hook (fill_bitmask / accept_token / is_terminated).
"""

from toolwire.guided.backend import GrammarBackend, XGrammarBackend
from toolwire.guided.constraint import XGrammarConstraint
from toolwire.guided.errors import GuidedDecodingError
from toolwire.guided.repetition import RepetitionGuard
from toolwire.guided.request import spec_from_request, text_spec
from toolwire.guided.service import CompiledConstraint, GrammarCache, GuidedDecoding
from toolwire.guided.specs import (
    ChoiceSpec, GrammarSpec, GuidedSpec, JsonSpec, Reasoning, RegexSpec, Tool, ToolCallsSpec, spec_key,
)
from toolwire.guided.structure import GrammarRequest, build_grammar

__all__ = [
    "ChoiceSpec", "CompiledConstraint", "GrammarBackend", "GrammarCache", "GrammarRequest", "GrammarSpec",
    "GuidedDecoding", "GuidedDecodingError", "GuidedSpec", "JsonSpec", "Reasoning",
    "RegexSpec", "RepetitionGuard", "Tool", "ToolCallsSpec", "XGrammarBackend", "XGrammarConstraint", "build_grammar",
    "spec_from_request", "spec_key", "text_spec",
]
