"""The public plugin interface, as the seeds' plugin files expect to import it.

    from toolwire.plugins import ToolParser, ToolParserManager, ExtractedToolCallInformation, \
        DeltaMessage, ChatCompletionRequest
"""

from toolwire.protocol.chat import ChatCompletionRequest
from toolwire.protocol.tool_calls import (
    DeltaFunctionCall,
    DeltaMessage,
    DeltaToolCall,
    ExtractedToolCallInformation,
    FunctionCall,
    ToolCall,
)
from toolwire.formats.base import ToolParser
from toolwire.formats.reasoning import ReasoningParser
from toolwire.formats.registry import ReasoningParserManager, ToolParserManager

__all__ = [
    "ChatCompletionRequest",
    "DeltaFunctionCall",
    "DeltaMessage",
    "DeltaToolCall",
    "ExtractedToolCallInformation",
    "FunctionCall",
    "ReasoningParser",
    "ReasoningParserManager",
    "ToolCall",
    "ToolParser",
    "ToolParserManager",
]
