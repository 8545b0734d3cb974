"""What the engine hands back: one RequestOutput per sequence per step, and a Completion to collect them."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolwire.engine.failure import SequenceFailure
from toolwire.engine.sampler import TokenLogprobs


@dataclass
class RequestOutput:
    request_id: str
    # The choice this output belongs to (0 .. n-1).
    index: int
    new_token_ids: list[int]
    # The text this step adds (may be empty: an incomplete character or a possible stop string is held).
    new_text: str
    # All text emitted so far for this choice.
    text: str
    finish_reason: str | None = None  # "stop" | "length" | "abort" | "error"
    # The stop string or stop token id that ended the choice (None for EOS and other reasons).
    stop_reason: str | int | None = None
    # One entry per new token when the request asked for logprobs.
    logprobs: list[TokenLogprobs] | None = None
    num_prompt_tokens: int = 0
    num_completion_tokens: int = 0
    # Prompt tokens whose keys/values came from the prefix cache.
    num_cached_tokens: int = 0
    # Why the choice ended with finish_reason "error".
    failure: SequenceFailure | None = None

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None


@dataclass
class Completion:
    """One choice, assembled from its stream of RequestOutputs."""

    index: int
    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    finish_reason: str | None = None
    stop_reason: str | int | None = None
    logprobs: list[TokenLogprobs] = field(default_factory=list)
    num_prompt_tokens: int = 0
    num_cached_tokens: int = 0
    failure: SequenceFailure | None = None

    def add(self, output: RequestOutput) -> None:
        self.token_ids.extend(output.new_token_ids)
        self.text = output.text
        self.finish_reason = output.finish_reason
        self.stop_reason = output.stop_reason
        if output.logprobs:
            self.logprobs.extend(output.logprobs)
        self.num_prompt_tokens = output.num_prompt_tokens
        self.num_cached_tokens = output.num_cached_tokens
        self.failure = output.failure
