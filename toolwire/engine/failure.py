"""Why one sequence ended with finish_reason "error".

Work done per sequence (drawing its token, filling its grammar mask, detokenizing, stop checks) can
fail for that sequence alone; it then ends with a SequenceFailure while the rest of the batch goes on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SequenceFailure:
    message: str
    # True when the request's own settings left nothing to generate (its constraints allow no next
    # token); False when computing the sequence failed.
    caused_by_request: bool = False

    @classmethod
    def from_exception(cls, stage: str, error: BaseException) -> SequenceFailure:
        return cls(f"{stage} failed: {type(error).__name__}: {error}")


NO_ALLOWED_TOKEN = SequenceFailure(
    "no token may come next: the request's constraints (response_format, guided decoding, "
    "min_tokens, logit_bias) exclude every token of the vocabulary", caused_by_request=True)
