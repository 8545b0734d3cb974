"""Field types of request bodies: numbers held to the range where the sampling math is defined,
and the base of every request model.

Request models are strict, as OpenAI's API is: `"max_tokens": "8"`, `"logprobs": "yes"` and
`"n": 2.0` are refused instead of coerced (an integer given for a float field is fine).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from toolwire.protocol.base import OpenAIModel
from toolwire.protocol.limits import check_request_body

# The seeds torch's generators take (vLLM's range: a signed 64-bit integer).
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1


def finite_number(*, ge: float | None = None, gt: float | None = None, le: float | None = None) -> Any:
    """A float field's type: a finite JSON number within the bounds, refused with one message that
    gives the range ("must be a finite number in [0, 2], got nan")."""
    low = f"[{ge}" if ge is not None else f"({gt}" if gt is not None else None
    if low is not None and le is not None:
        expected = f"in {low}, {le}]"
    elif low is not None:
        expected = f"{'>=' if ge is not None else '>'} {ge if ge is not None else gt}"
    else:
        expected = f"<= {le}" if le is not None else ""

    def check(value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            inside = (math.isfinite(value) and (ge is None or value >= ge) and (gt is None or value > gt)
                      and (le is None or value <= le))
            if not inside:
                raise ValueError(f"must be a finite number {expected}, got {_short(value)}".rstrip())
        return value

    return Annotated[float, Field(strict=True, allow_inf_nan=False, ge=ge, gt=gt, le=le), BeforeValidator(check)]


def _short(value: int | float) -> str:
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "..."


Seed = Annotated[int, Field(ge=SEED_MIN, le=SEED_MAX)]


class StrictModel(OpenAIModel):
    """A request-side model whose numbers and booleans are not coerced from other types."""

    model_config = ConfigDict(strict=True)


class RequestBody(StrictModel):
    """A whole request body: strict types, and within the limits of toolwire.protocol.limits
    (depth, valid Unicode), checked before any field."""

    @model_validator(mode="before")
    @classmethod
    def _within_limits(cls, data: Any) -> Any:
        return check_request_body(data)
