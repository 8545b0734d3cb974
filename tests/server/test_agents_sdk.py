"""The OpenAI Agents SDK (`openai-agents`) against /v1/responses: an Agent with one function tool runs
to a final output. The tiny default model need not answer sensibly; what is checked is that the tool
was called with arguments valid for its schema and that the run completed."""

from __future__ import annotations

import asyncio

import pytest

agents = pytest.importorskip("agents")

pytestmark = pytest.mark.slow


def test_agent_calls_its_tool_and_finishes(server):
    from openai import AsyncOpenAI

    from agents import Agent, ModelSettings, OpenAIResponsesModel, Runner, function_tool, set_tracing_disabled

    set_tracing_disabled(True)
    calls: list[tuple[str, str]] = []

    @function_tool
    def get_weather(city: str, unit: str) -> str:
        """Get the current weather in a city.

        Args:
            city: The city.
            unit: celsius or fahrenheit.
        """
        calls.append((city, unit))
        return f"18 degrees {unit} and sunny in {city}"

    client = AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0, timeout=300)
    agent = Agent(
        name="weather", instructions="Answer weather questions with the get_weather tool.",
        tools=[get_weather], tool_use_behavior="run_llm_again",
        model=OpenAIResponsesModel(model="SmolLM2-135M-Instruct", openai_client=client),
        # required on the first turn; the SDK resets tool_choice after a tool call so the model can answer
        model_settings=ModelSettings(tool_choice="required", temperature=0, max_tokens=256,
                                     parallel_tool_calls=False),
    )

    async def run_both():
        whole = await Runner.run(agent, "What's the weather in Paris?", max_turns=4)
        streamed = Runner.run_streamed(agent, "What's the weather in Paris?", max_turns=4)
        async for _ in streamed.stream_events():
            pass
        return whole.final_output, streamed.final_output

    whole, streamed = asyncio.run(run_both())
    assert len(calls) == 2 and all(isinstance(city, str) and isinstance(unit, str) for city, unit in calls)
    assert calls[0] == calls[1]
    assert whole and whole == streamed
