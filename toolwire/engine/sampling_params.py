"""SamplingParams: how one request's tokens are chosen and when its output ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from toolwire.engine.constraint import TokenConstraint


@dataclass
class SamplingParams:
    n: int = 1
    # 0 (or below 1e-5) means greedy (argmax).
    temperature: float = 1.0
    top_p: float = 1.0
    # 0 or -1 means no top-k cut.
    top_k: int = 0
    min_p: float = 0.0
    # > 1 discourages tokens already seen in the prompt or output (multiplicative, as in CTRL).
    repetition_penalty: float = 1.0
    # OpenAI-style additive penalties over the output tokens.
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[int, float] | None = None
    # Same seed, same tokens, whatever else is in the batch.
    seed: int | None = None
    max_tokens: int | None = 16
    min_tokens: int = 0
    stop: list[str] = field(default_factory=list)
    stop_token_ids: list[int] = field(default_factory=list)
    ignore_eos: bool = False
    include_stop_str_in_output: bool = False
    # None: no logprobs. k >= 0: the chosen token's logprob plus the k most likely alternatives.
    logprobs: int | None = None
    skip_special_tokens: bool = True
    # Admission order among waiting requests: lower runs first (vLLM's meaning); equals go FCFS.
    priority: int = 0
    # Called once per sequence (n of them per request) to build its decoding constraint.
    constraint_factory: Callable[[], "TokenConstraint"] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            self.stop = [self.stop]
        self.stop = [s for s in self.stop if s]
        if self.top_k == -1:
            self.top_k = 0
        self._validate()

    def _validate(self) -> None:
        checks = [
            (self.n >= 1, "n must be at least 1"),
            (self.temperature >= 0, "temperature must be non-negative"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (self.top_k >= 0, "top_k must be -1, 0 or positive"),
            (0 <= self.min_p <= 1, "min_p must be in [0, 1]"),
            (self.repetition_penalty > 0, "repetition_penalty must be positive"),
            (-2 <= self.presence_penalty <= 2, "presence_penalty must be in [-2, 2]"),
            (-2 <= self.frequency_penalty <= 2, "frequency_penalty must be in [-2, 2]"),
            (self.max_tokens is None or self.max_tokens >= 1, "max_tokens must be at least 1"),
            (self.min_tokens >= 0, "min_tokens must be non-negative"),
            (self.max_tokens is None or self.min_tokens <= self.max_tokens,
             "min_tokens must not exceed max_tokens"),
            (self.logprobs is None or self.logprobs >= 0, "logprobs must be non-negative"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def greedy(self) -> bool:
        # Below 1e-5 too: dividing the logits by such a temperature would overflow float32.
        return self.temperature < 1e-5

    @property
    def has_penalties(self) -> bool:
        return (self.repetition_penalty != 1.0 or self.presence_penalty != 0.0
                or self.frequency_penalty != 0.0)

    @property
    def truncates(self) -> bool:
        """Whether top-k, top-p or min-p cut the distribution before sampling."""
        return self.top_k > 0 or self.top_p < 1.0 or self.min_p > 0.0
