"""Incremental detokenization: text deltas that never split a UTF-8 character.

Tokenizers decode a token differently depending on what precedes it (SentencePiece's leading "▁",
byte-level BPE's byte pieces), so each step decodes a short window of earlier tokens plus the new
ones and emits what the new ones added. A trailing U+FFFD means a character is still incomplete:
wait for the next token.
"""

from __future__ import annotations

# How many tokens before the new ones give the decoder its context.
_CONTEXT_TOKENS = 6


class IncrementalDetokenizer:
    def __init__(self, tokenizer, prompt_token_ids: list[int], skip_special_tokens: bool = True):
        # The Rust tokenizer decodes without the Python wrapper's overhead and clean-up rules.
        self._decoder = getattr(tokenizer, "backend_tokenizer", None) or tokenizer
        self._skip_special = skip_special_tokens
        self._tokens: list[int] = list(prompt_token_ids[-_CONTEXT_TOKENS:])
        # _tokens[_prefix_offset:_read_offset] is the context window already turned into text.
        self._prefix_offset = 0
        self._read_offset = len(self._tokens)

    def _decode(self, token_ids: list[int]) -> str:
        return self._decoder.decode(token_ids, skip_special_tokens=self._skip_special)

    def step(self, token_id: int) -> str:
        """Add one token; return the text it completes (possibly empty)."""
        self._tokens.append(token_id)
        return self._advance(final=False)

    def flush(self) -> str:
        """Return whatever is held back (an incomplete character decodes as U+FFFD)."""
        return self._advance(final=True)

    def _advance(self, final: bool) -> str:
        if self._read_offset == len(self._tokens):
            return ""
        prefix_text = self._decode(self._tokens[self._prefix_offset:self._read_offset])
        new_text = self._decode(self._tokens[self._prefix_offset:])
        if not final and (len(new_text) <= len(prefix_text) or new_text.endswith("\ufffd")):
            return ""
        delta = new_text[len(prefix_text):]
        # Keep the list short: drop what the next window no longer needs.
        start = max(0, len(self._tokens) - _CONTEXT_TOKENS)
        self._tokens = self._tokens[start:]
        self._prefix_offset = max(0, self._read_offset - start)
        self._read_offset = len(self._tokens)
        return delta
