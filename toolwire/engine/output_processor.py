"""OutputProcessor: per sequence, turns each sampled token into a RequestOutput and decides the end."""

from __future__ import annotations

import logging

from toolwire.engine.detokenizer import IncrementalDetokenizer
from toolwire.engine.failure import SequenceFailure
from toolwire.engine.outputs import RequestOutput
from toolwire.engine.sampler import TokenLogprobs
from toolwire.engine.sequence import Sequence
from toolwire.engine.stop_checker import StopChecker

logger = logging.getLogger(__name__)


class OutputProcessor:
    def __init__(self, seq: Sequence, tokenizer, eos_token_ids: set[int], max_model_len: int):
        self.seq = seq
        p = seq.params
        self.detokenizer = (IncrementalDetokenizer(tokenizer, seq.token_ids, p.skip_special_tokens)
                            if tokenizer is not None else None)
        self.stop_checker = StopChecker(p.stop, p.include_stop_str_in_output)
        self.stop_token_ids = set(p.stop_token_ids)
        self.eos_token_ids = set() if p.ignore_eos else set(eos_token_ids)
        max_tokens = p.max_tokens if p.max_tokens is not None else max_model_len
        self.max_len = min(max_model_len, seq.num_prompt_tokens + max_tokens)
        self.text = ""

    def process(self, token_id: int, logprobs: TokenLogprobs | None) -> RequestOutput:
        seq, p = self.seq, self.seq.params
        allowed_to_stop = seq.num_output_tokens >= p.min_tokens
        seq.append_token(token_id)
        finish_reason = stop_reason = None
        if seq.constraint is not None and not seq.constraint.accept_token(token_id):
            logger.warning("request %s: constraint rejected token %d", seq.request_id, token_id)
            finish_reason = "stop"
        if allowed_to_stop and (token_id in self.stop_token_ids or token_id in self.eos_token_ids):
            finish_reason = "stop"
            stop_reason = token_id if token_id in self.stop_token_ids else None
            delta = ""
        else:
            delta = self.detokenizer.step(token_id) if self.detokenizer else ""
            if allowed_to_stop:
                delta = self.stop_checker.feed(delta)
                if self.stop_checker.matched is not None:
                    finish_reason, stop_reason = "stop", self.stop_checker.matched
        if finish_reason is None:
            if seq.num_tokens >= self.max_len:
                finish_reason = "length"
            elif seq.constraint is not None and seq.constraint.is_terminated():
                finish_reason = "stop"
        if finish_reason is not None and self.stop_checker.matched is None:
            delta += self.stop_checker.flush() + (self.detokenizer.flush() if self.detokenizer else "")
        self.text += delta
        seq.finish_reason, seq.stop_reason = finish_reason, stop_reason
        return RequestOutput(
            request_id=seq.request_id, index=seq.index, new_token_ids=[token_id], new_text=delta,
            text=self.text, finish_reason=finish_reason, stop_reason=stop_reason,
            logprobs=[logprobs] if logprobs is not None else None,
            num_prompt_tokens=seq.num_prompt_tokens, num_completion_tokens=seq.num_output_tokens,
            num_cached_tokens=seq.num_cached_tokens)

    def aborted(self) -> RequestOutput:
        return self._ended("abort")

    def failed(self, failure: SequenceFailure) -> RequestOutput:
        """The last output of a sequence whose own computation failed: no new token, the failure."""
        return self._ended("error", failure)

    def _ended(self, finish_reason: str, failure: SequenceFailure | None = None) -> RequestOutput:
        seq = self.seq
        seq.finish_reason = finish_reason
        return RequestOutput(
            request_id=seq.request_id, index=seq.index, new_token_ids=[], new_text="", text=self.text,
            finish_reason=finish_reason, num_prompt_tokens=seq.num_prompt_tokens,
            num_completion_tokens=seq.num_output_tokens, num_cached_tokens=seq.num_cached_tokens,
            failure=failure)
