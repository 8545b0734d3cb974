"""A tool-call family: everything toolwire knows about how one family of models writes tool calls.

One object per family yields
- its streaming parser (the `ToolParser` class registered under the family's names, whose `family`
  attribute is this object),
- its grammar (`calls_grammar`: the calls in the family's own syntax, for the tools a request may
  call; `toolwire.guided` composes it into required / named / auto / parallel-off grammars),
- how the prompt shows calls (`render_calls`, `instruction`) where the chat template cannot,
- how its chat template is recognised (`template_markers`),
- its id style (fresh ids, and how foreign ids in the history are rewritten).

Nothing else resolves a family from its name: the parser registry maps names to parser classes,
and a parser class carries its family.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from toolwire.formats.grammar import GuidedDecodingError, Node
from toolwire.formats.ids import KimiHistoryIds, mistral_history_id
from toolwire.formats.spec import IdStyle

Call = tuple[str, Mapping[str, Any]]
"""A call as the prompt shows it: (function name, arguments)."""

CallableTool = tuple[str, dict[str, Any]]
"""A tool the grammar lets the model call: (function name, the JSON schema of its arguments)."""

DEFAULT_INSTRUCTION = "To call functions, write the calls exactly in this format, for example:"


@dataclass(frozen=True)
class TemplateMarker:
    """A sign, in a chat template, that its model writes calls in this family's format.

    Detection tries every registered family's markers in ascending `rank` and takes the first found:
    a marker that another family's marker contains, or that several families' templates show, goes
    after the more specific one.
    """

    pattern: re.Pattern
    shows: str  # what the start-up log says was found
    rank: int = 50

    @classmethod
    def literal(cls, marker: str, rank: int = 50) -> TemplateMarker:
        return cls(re.compile(re.escape(marker)), marker, rank)

    def found_in(self, text: str) -> bool:
        return self.pattern.search(text) is not None


@dataclass(frozen=True)
class CallsGrammar:
    """The grammar of a family's calls, for one set of callable tools.

    A reply's calls are one or more blocks, each `trigger body`. `body` holds every call of its
    block and the block's end marker. In free text (tool_choice auto) the trigger opens a block.
    """

    trigger: str  # the marker that opens a block; "" when blocks have none
    body: Node  # what follows the trigger, to the block's end
    bare_start: str = ""  # first characters of a block that leaves out its trigger ("{", "[")
    one_call_per_block: bool = False  # several calls are written as several blocks
    lead: str = ""  # written before the trigger where the reply must be calls (free text needs only the trigger)


class ToolCallFamily:
    """The base of every family. Subclasses: `DeclaredFamily` (formats described as data, one file
    each in `families/`) and the families with a syntax of their own (a folder each)."""

    name: str = "undeclared"
    id_style: IdStyle = IdStyle.OPENAI
    template_markers: tuple[TemplateMarker, ...] = ()
    instruction: str = DEFAULT_INSTRUCTION  # the tool prompt's sentence before the example call
    # Strings that end a free-text value in this syntax (`</parameter>`): what closes a value when a
    # call must end within max_tokens (JSON's closers need no mention).
    value_end_markers: tuple[str, ...] = ()

    def calls_grammar(self, tools: Sequence[CallableTool], *, parallel: bool,
                      payload: str | None = None) -> CallsGrammar:
        """The calls' grammar; `parallel` false: one call. `payload` names a variant of the syntax,
        for families whose models write more than one. Families without a grammar raise."""
        raise GuidedDecodingError(
            f"tool parser {self.name!r} declares no grammar, so its tool calls cannot be constrained "
            "(tool_choice 'required' or a named tool)", param="tool_choice")

    @property
    def constrainable(self) -> bool:
        return type(self).calls_grammar is not ToolCallFamily.calls_grammar

    def render_calls(self, calls: Sequence[Call]) -> str:
        """`calls` as the model writes them: for the prompt's example and for earlier calls."""
        raise NotImplementedError

    @property
    def history_call_id(self) -> Callable[[str, str | None], str] | None:
        """How ids of earlier calls are rewritten for the model's template (None: kept as they are):
        called with a call's id and function name, or with a result's id and None. Each use of this
        property gives a rewriter for one conversation (Kimi's counts the conversation's calls)."""
        if self.id_style is IdStyle.MISTRAL:
            return mistral_history_id
        if self.id_style is IdStyle.KIMI:
            return KimiHistoryIds()
        return None

    def __deepcopy__(self, memo) -> ToolCallFamily:
        return self  # a declaration, never changed: specs holding it copy it as it is

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class UndeclaredFamily(ToolCallFamily):
    """The family of a plugin parser that declares none: no grammar (required / named tool_choice
    get a 400), no template markers, and its calls shown to the model as `shown_as` writes them."""

    def __init__(self, name: str, shown_as: ToolCallFamily):
        self.name = name
        self._shown_as = shown_as
        self.instruction = shown_as.instruction

    def render_calls(self, calls: Sequence[Call]) -> str:
        return self._shown_as.render_calls(calls)
