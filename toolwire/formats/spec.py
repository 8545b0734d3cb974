"""The declarative description of a tool-call format: one value per model family.

A `ToolCallFormat` says, as data, how a model writes its tool calls: the markers that open and close a
block of calls, the shape of the payload inside, which keys hold the name and the arguments, and how
call ids look. Two things are built from the same value:

- the streaming parser (`toolwire.formats.streaming.FormatStream` interprets it), and
- the constraint grammar (a later grammar builder reads the same fields), so that what the model is
  steered to write is exactly what the parser reads.

The shape of one block, in grammar terms (`ws` is optional whitespace, `?` optional, `*` repeated):

    block     := start ws payload ws end?            (end may be missing at the end of the output)
    JSON_OBJECTS:  object (ws separator ws object)*  (one object when separator is "")
    JSON_ARRAY:    "[" ws object (ws "," ws object)* ws "]"
    NAME_THEN_JSON: named (ws named)*                (repeated only when named.call_start is set)
    object    := {"<name key>": "f", "<arguments key>": {...}}   (keys in any order, others ignored)
    named     := call_start ws name_prefix name ws args_start ws {...} ws args_end ws call_end

A format may also name `wrappers`: (open, close) pairs the parser accepts around a block and drops
(xLAM's ```json code fence, `[TOOL_CALLS]` with no close; a close is read only after its own open, and
may be missing like an end marker), which the grammar and the rendering never write. A format whose
payload's own "{" or "[" opens its blocks (`start_optional`) may have no start marker at all.

Every marker is a tuple of spellings the parser accepts (DeepSeek's full-width bars and the ASCII bars
that documents print); the first spelling is the one a model writes and the one a grammar produces.
Likewise the first payload kind and the first key of `name_keys` / `argument_keys` are canonical.

The parser is more lenient than the grammar above, since models stray from it; a grammar need not
produce these: a missing closing marker (the block ends after its last call), objects separated by
whitespace alone where a separator is declared, arguments before the name, arguments written as a
JSON-encoded string, raw control characters and `\'` inside JSON strings.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

Spellings = tuple[str, ...]
"""One marker, in every spelling accepted; the first is canonical. Empty: no marker."""


class Payload(enum.Enum):
    JSON_OBJECTS = "json_objects"  # {"name": "f", "arguments": {...}}, several joined by the separator
    JSON_ARRAY = "json_array"  # [{"name": "f", "arguments": {...}}, ...]
    NAME_THEN_JSON = "name_then_json"  # f{...}, or the markers of NamedCall around name and arguments


class IdStyle(enum.Enum):
    OPENAI = "openai"  # call_ + 24 alphanumerics
    MISTRAL = "mistral"  # exactly 9 alphanumerics (Mistral's chat template rejects anything else)
    KIMI = "kimi"  # functions.NAME:IDX, written by the model itself (NamedCall.index_separator)


@dataclass(frozen=True)
class NamedCall:
    """The markers of one call in a NAME_THEN_JSON payload: name first, then the arguments object."""

    call_start: Spellings = ()  # opens each call; when set, several calls may follow one block start
    name_prefix: Spellings = ()  # written right before the name
    args_start: Spellings = ()  # between the name and the arguments object
    args_start_optional: bool = False
    args_end: Spellings = ()  # right after the arguments object
    call_end: Spellings = ()  # closes each call
    index_separator: str = ""  # between the name and the call's index, which is part of its id (Kimi's ":")


@dataclass(frozen=True)
class ToolCallFormat:
    name: str
    start: Spellings  # opens a block of calls; empty only when the payload's own "{" or "[" opens it
    payloads: tuple[Payload, ...]  # accepted after the start marker, told apart by their first character
    end: Spellings = ()  # closes the block; may be missing at the end of the output
    start_optional: bool = False  # a block may also begin directly with its payload (its "{" or "[")
    separator: str = ""  # between the calls of one JSON_OBJECTS block ("," or ";"); "": one object
    name_keys: tuple[str, ...] = ("name",)
    argument_keys: tuple[str, ...] = ("arguments", "parameters")
    named_call: NamedCall | None = None  # required with Payload.NAME_THEN_JSON
    id_style: IdStyle = IdStyle.OPENAI
    wrappers: tuple[tuple[str, str], ...] = ()  # (open, close) around a block, read and dropped; close may be ""

    def __post_init__(self) -> None:
        if not (self.start or self.start_optional) or not self.payloads:
            raise ValueError(f"format {self.name!r} needs a start marker and a payload kind")
        if Payload.NAME_THEN_JSON in self.payloads and self.named_call is None:
            raise ValueError(f"format {self.name!r} has a NAME_THEN_JSON payload but no named_call")
        if self.named_call is not None and len(self.named_call.index_separator) > 1:
            raise ValueError(f"format {self.name!r}: an index separator is one character")

    @property
    def block_start_characters(self) -> str:
        """The payload's first characters that open a block when `start_optional` is set."""
        chars = {Payload.JSON_OBJECTS: "{", Payload.JSON_ARRAY: "["}
        return "".join(chars[p] for p in self.payloads if p in chars) if self.start_optional else ""
