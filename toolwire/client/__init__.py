"""The client side of tool calling, for any OpenAI-compatible server (toolwire, vLLM, OpenAI).

    from openai import OpenAI
    from toolwire.client import tool, run_tools

    @tool
    def get_weather(location: str, unit: Literal["celsius", "fahrenheit"] = "fahrenheit") -> dict:
        '''Get the current weather for a location.

        Args:
            location: City name, e.g. 'San Francisco'
            unit: Temperature unit.
        '''
        return {"temperature": 62, "unit": unit, "condition": "fog", "location": location}

    result = run_tools(OpenAI(base_url=...), "model", [{"role": "user", "content": "Weather in SF?"}],
                       [get_weather])
    print(result.final_text)

- ``tool`` / ``Tool``: a typed function as a tool (definition, schema, argument validation);
- ``run_tools`` / ``arun_tools`` / ``iter_tools`` / ``aiter_tools``: the tool loop (see ``loop``);
- ``StreamAssembler`` (``toolwire.client.stream``): streamed chunks into a message.
"""

from toolwire.client.execution import aexecute_calls, execute_calls
from toolwire.client.loop import (
    AsyncToolEvents, ToolEvents, ToolLoopError, aiter_tools, arun_tools, iter_tools, run_tools,
)
from toolwire.client.results import (
    RunEvent, Step, StepFinished, TextDelta, ToolCall, ToolCallFinished, ToolCallRequested,
    ToolExecution, ToolRunResult,
)
from toolwire.client.stream import StreamAssembler, assemble_stream
from toolwire.client.tools import Tool, ToolArgumentsError, Toolbox, parse_arguments, tool

__all__ = [
    "tool", "Tool", "Toolbox", "ToolArgumentsError", "parse_arguments",
    "run_tools", "arun_tools", "iter_tools", "aiter_tools", "ToolEvents", "AsyncToolEvents",
    "ToolLoopError", "ToolRunResult", "Step", "ToolCall", "ToolExecution",
    "RunEvent", "TextDelta", "ToolCallRequested", "ToolCallFinished", "StepFinished",
    "StreamAssembler", "assemble_stream", "execute_calls", "aexecute_calls",
]
