"""The responses kept for `previous_response_id` and `GET /v1/responses/{id}`: in memory, bounded, the
least recently used evicted first (`--responses-store-size`; 0 keeps none)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from toolwire.protocol.responses import InputItem

_ITEM = TypeAdapter(InputItem)


@dataclass
class StoredResponse:
    response: dict[str, Any]
    # The conversation the response answered: earlier turns and this request's input (not its
    # instructions, which a continuation does not inherit).
    input_items: list[InputItem]

    def conversation(self) -> list[InputItem]:
        """What a response continuing this one starts from: its input, then its output as input."""
        return self.input_items + [_ITEM.validate_python(item) for item in self.response["output"]]


class ResponseStore:
    def __init__(self, capacity: int):
        self.capacity = capacity
        self._entries: OrderedDict[str, StoredResponse] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, stored: StoredResponse) -> None:
        if self.capacity <= 0:
            return
        response_id = stored.response["id"]
        self._entries[response_id] = stored
        self._entries.move_to_end(response_id)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)

    def get(self, response_id: str) -> StoredResponse | None:
        stored = self._entries.get(response_id)
        if stored is not None:
            self._entries.move_to_end(response_id)
        return stored

    def delete(self, response_id: str) -> bool:
        return self._entries.pop(response_id, None) is not None
