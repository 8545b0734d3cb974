"""`XmlCallSyntax`: how one family writes its calls, as data.

A block of calls is

    block_start  ( call_start NAME name_end  ( key_start KEY key_end value_start VALUE value_end )*  call_end )+  block_end

with blanks allowed between the parts. The scanner reads any such text; the grammar and the prompt's
rendering write the canonical form, which adds the `after_*` whitespace the models write:

    qwen3_coder  <tool_call>\\n<function=f>\\n<parameter=k>\\nV\\n</parameter>\\n</function>\\n</tool_call>
    glm45        <tool_call>f\\n<arg_key>k</arg_key>\\n<arg_value>V</arg_value>\\n</tool_call>
    glm47        <tool_call>f<arg_key>k</arg_key><arg_value>V</arg_value></tool_call>
    minimax_m2   <minimax:tool_call>\\n<invoke name="f">\\n<parameter name="k">V</parameter>\\n</invoke>\\n</minimax:tool_call>
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FUNCTION_NAME = re.compile(r"[\w.:/\-]+")
"""What a function name may be made of (a name that is not like this is text, not a call)."""


@dataclass(frozen=True)
class XmlCallSyntax:
    block_start: str
    block_end: str
    call_start: str  # "": the name comes right after the block start, and the block holds one call
    name_end: str  # "": the name ends at a newline or where the first parameter (or the block end) begins
    call_end: str  # "": the block end closes the call
    key_start: str
    key_end: str
    value_start: str  # "": the value follows the key's end directly
    value_end: str
    grammar_style: str  # xgrammar's name for this way of writing an object's properties
    one_call_per_block: bool = True  # how the models write several calls (the scanner reads both ways
    # where calls have a start marker)
    value_between_newlines: bool = False  # one newline after the key and one before value_end belong to the layout
    # The whitespace of the canonical form (what the models write, and what the grammar and rendering write).
    after_block_start: str = ""
    after_name: str = ""
    after_key: str = ""
    after_value: str = ""
    after_call: str = ""
    between_blocks: str = "\n"

    @property
    def name_stops(self) -> str:
        """The characters that end a function name."""
        return self.name_end[:1] if self.name_end else "\n" + self.key_start[:1] + self.block_end[:1]

    @property
    def key_stops(self) -> str:
        return self.key_end[:1]
