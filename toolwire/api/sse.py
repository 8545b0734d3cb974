"""Server-sent events as OpenAI streams them: `data: {json}\n\n` per chunk, then `data: [DONE]`."""

from __future__ import annotations

from pydantic import BaseModel

DONE = "data: [DONE]\n\n"


def sse_event(payload: BaseModel | str) -> str:
    if isinstance(payload, BaseModel):
        payload = payload.model_dump_json(exclude_unset=False)
    return f"data: {payload}\n\n"
