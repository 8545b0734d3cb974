"""Shared by the guided tests: BFCL tool sets, a random token driver, and parsing with the real parsers."""

from __future__ import annotations

import json
from functools import lru_cache

import torch
import xgrammar as xgr

from toolwire.evals.bfcl.data import find_data_dir, load_category
from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.formats.registry import ToolParserManager
from toolwire.guided import Tool

_BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array", "any": "string"}


def bfcl_schema(schema):
    """BFCL's type names mapped to JSON Schema's (dict -> object, float -> number, ...)."""
    if isinstance(schema, dict):
        out = {key: bfcl_schema(value) for key, value in schema.items()}
        if isinstance(out.get("type"), str):
            out["type"] = _BFCL_TYPES.get(out["type"], out["type"])
        return out
    if isinstance(schema, list):
        return [bfcl_schema(item) for item in schema]
    return schema


def bfcl_tool_sets(category: str, count: int) -> list[tuple[str, tuple[Tool, ...]]]:
    """(entry id, tools) of the first `count` entries (the bfcl-eval package's data, as `toolwire eval
    bfcl` reads it); dotted names get `_` for `.`."""
    return [(entry.id, tuple(Tool(f["name"].replace(".", "_"), bfcl_schema(f["parameters"])) for f in entry.functions))
            for entry in load_category(find_data_dir(), category, count)]


def openai_tools(tools) -> list[dict]:
    return [{"type": "function", "function": {"name": t.name, "parameters": t.parameters or {"type": "object"}}}
            for t in tools]


class Vocab:
    """Per-token text of a tokenizer, and the ids of tokens that close JSON / Python structures."""

    def __init__(self, tokenizer, stop_token_ids):
        self.tokenizer = tokenizer
        self.size = len(tokenizer)
        self.stop_token_ids = list(stop_token_ids)
        texts = [tokenizer.decode([i]) for i in range(self.size)]
        closers = [i for i, text in enumerate(texts) if any(ch in text for ch in "\"'}])")]
        self.closers = torch.tensor(closers + self.stop_token_ids)
        self.stops = torch.tensor(self.stop_token_ids)
        # Drawing fresh random logits every step costs more than the rest of a step: draw from a pool.
        self.noise = torch.randn(64, self.size, generator=torch.Generator().manual_seed(0))

    def decode(self, ids) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=False)


def drive(constraint, vocab: Vocab, seed: int, *, prefix_ids=(), max_steps: int = 800,
          end_when_complete: float = 0.5) -> str:
    """Random decoding under the constraint until it terminates; returns the text (without the stop).

    Each step draws random logits, masks them with the constraint's bitmask and takes the argmax: a
    random walk over allowed tokens, biased more and more towards tokens that close a string, object
    or list (and, once the grammar may end, towards stopping with probability `end_when_complete`),
    so that it ends. `prefix_ids` are forced first, each of which must be allowed.
    """
    generator = torch.Generator().manual_seed(seed)
    out: list[int] = []
    bitmask = xgr.allocate_token_bitmask(1, vocab.size)
    logits = torch.empty(1, vocab.size)
    for token_id in prefix_ids:
        constraint.fill_bitmask(bitmask[0])
        assert _allowed(bitmask[0], token_id), f"forced token {vocab.decode([token_id])!r} is masked"
        assert constraint.accept_token(token_id)
        out.append(token_id)
    for step in range(max_steps):
        if constraint.is_terminated():
            break
        bitmask.fill_(-1)
        constraint.fill_bitmask(bitmask[0])
        logits[0].copy_(vocab.noise[int(torch.randint(64, (1,), generator=generator))])
        logits[0, vocab.closers] += min(step / 4, 12.0)
        if constraint.is_completed() and float(torch.rand(1, generator=generator)) < end_when_complete:
            logits[0, vocab.stops] += 100.0
        xgr.apply_token_bitmask_inplace(logits, bitmask)
        token_id = int(logits.argmax())
        assert _allowed(bitmask[0], token_id)
        assert constraint.accept_token(token_id), token_id
        out.append(token_id)
    assert constraint.is_terminated(), f"not finished after {max_steps} steps: {vocab.decode(out)!r}"
    assert out[-1] in vocab.stop_token_ids
    return vocab.decode(out[:-1])


def _allowed(row: torch.Tensor, token_id: int) -> bool:
    word, bit = divmod(token_id, 32)
    return bool((int(row[word]) >> bit) & 1)


def allowed_ids(row: torch.Tensor, vocab_size: int) -> list[int]:
    bits = (row.unsqueeze(-1) >> torch.arange(32, dtype=torch.int32)) & 1
    return [i for i in bits.flatten().nonzero().flatten().tolist() if i < vocab_size]


@lru_cache(maxsize=None)
def parser_class(name: str):
    return ToolParserManager.get_tool_parser(name)


def parse_calls(parser_name: str, text: str, tools) -> tuple[list[tuple[str, dict]], str | None]:
    """The calls (name, arguments) and content that the format's own parser reads from `text`."""
    request = ChatCompletionRequest(messages=[{"role": "user", "content": "hi"}], tools=openai_tools(tools))
    result = parser_class(parser_name)().extract_tool_calls(text, request)
    calls = [(call.function.name, json.loads(call.function.arguments)) for call in result.tool_calls]
    return calls, result.content
