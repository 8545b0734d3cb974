"""The base of every OpenAI-shaped model: unknown fields are accepted and ignored."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict


def random_id(prefix: str, length: int = 24) -> str:
    return prefix + uuid.uuid4().hex[:length]


class OpenAIModel(BaseModel):
    """Unknown fields are accepted and ignored, as OpenAI-compatible servers do."""

    model_config = ConfigDict(extra="allow", protected_namespaces=())
