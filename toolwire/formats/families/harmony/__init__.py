"""gpt-oss's harmony format: the `openai` tool-call family and the `gpt_oss` reasoning parser.

A reply is a run of messages on channels: `analysis` (reasoning), `commentary` (tool calls, and
preambles for the user), `final` (the answer). A call is a message to `functions.NAME` whose body is
the JSON arguments, ended by `<|call|>`:

    <|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant<|channel|>commentary
    to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris"}<|call|>

- `messages.py`: the incremental message reader both parsers run;
- `tool_parser.py`: calls and content (`openai`); `reasoning.py`: the analysis channel (`gpt_oss`);
- `grammar.py`: the calls' grammar; `rendering.py`: calls, results and tools as the prompt shows them.

The `openai-harmony` package is not used: it renders and parses token ids, with the o200k vocabulary
it downloads on first use (a file checked against its hash), while toolwire's parsers read text in
any chunking and its prompts come from the chat template.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from toolwire.formats.family import Call, CallableTool, CallsGrammar, TemplateMarker, ToolCallFamily
from toolwire.formats.families.harmony.grammar import harmony_calls_grammar
from toolwire.formats.families.harmony.messages import CHANNEL
from toolwire.formats.families.harmony.reasoning import GptOssReasoningParser
from toolwire.formats.families.harmony.rendering import functions_namespace, harmony_calls_text
from toolwire.formats.families.harmony.tool_parser import HarmonyToolParser
from toolwire.formats.grammar import GuidedDecodingError
from toolwire.formats.registry import ReasoningParserManager, ToolParserManager


class HarmonyFamily(ToolCallFamily):
    name = "openai"
    instruction = ("To call a function, send it a message on the commentary channel, with its arguments "
                   "as JSON, like this:")
    template_markers = (TemplateMarker(re.compile(re.escape(CHANNEL) + r"|<\|constrain\|>"),
                                       "harmony's <|channel|> markers", rank=40),)

    def calls_grammar(self, tools: Sequence[CallableTool], *, parallel: bool,
                      payload: str | None = None) -> CallsGrammar:
        if payload is not None:
            raise GuidedDecodingError(f"format {self.name!r} has no payload kind {payload!r}", param="tool_choice")
        return harmony_calls_grammar(tools, parallel=parallel)

    def render_calls(self, calls: Sequence[Call]) -> str:
        return harmony_calls_text(calls)

    def tool_prompt(self, tools: Sequence[Mapping[str, Any]]) -> str:
        """The tools as harmony's developer message lists them, then how to call them."""
        from toolwire.chat.tool_prompt import EXAMPLE_CALL

        return (f"# Tools\n\n{functions_namespace(tools)}\n\n"
                "Calls to these tools must go to the commentary channel: 'functions'.\n\n"
                f"{self.instruction}\n{self.render_calls([EXAMPLE_CALL])}")


HARMONY = HarmonyFamily()


@ToolParserManager.register_module(["openai", "gpt-oss", "gpt_oss"])  # vLLM's name, then SGLang's
class OpenAIToolParser(HarmonyToolParser):
    family = HARMONY


ReasoningParserManager.register_module(["openai_gptoss", "gpt_oss", "gpt-oss"], module=GptOssReasoningParser)
