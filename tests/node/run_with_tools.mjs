// The tool-calling guide's Node.js example, as written; only the deployment values (API key,
// base URL, model name) come from the environment so that it talks to the server under test.
// It prints one JSON line: the answer and every request/response of the loop, for the test to check.
import OpenAI from "openai";

const client = new OpenAI({
  apiKey: process.env.TOOLWIRE_API_KEY || "your_generalcompute_api_key",
  baseURL: process.env.TOOLWIRE_BASE_URL || "https://api.generalcompute.com/v1",
});
const MODEL = process.env.TOOLWIRE_MODEL || "llama-4-maverick";
const MAX_TURNS = Number(process.env.TOOLWIRE_MAX_TURNS || "4");
const trace = [];

const tools = [
  {
    type: "function",
    function: {
      name: "get_weather",
      description: "Get the current weather for a location.",
      parameters: {
        type: "object",
        properties: {
          location: {
            type: "string",
            description: "City name, e.g. 'San Francisco'",
          },
          unit: {
            type: "string",
            enum: ["celsius", "fahrenheit"],
          },
        },
        required: ["location"],
      },
    },
  },
];

function getWeather(location, unit = "fahrenheit") {
  // Real implementation would call a weather API
  return { temperature: 62, unit, condition: "fog", location };
}

async function runWithTools(userMessage) {
  const messages = [{ role: "user", content: userMessage }];

  // The guide loops `while (true)`; a tiny model might call tools forever, so the test bounds it.
  for (let turn = 0; turn < MAX_TURNS; turn++) {
    const response = await client.chat.completions.create({
      model: MODEL,
      messages,
      tools,
      tool_choice: "auto",
    });
    trace.push(response);

    const message = response.choices[0].message;

    if (!message.tool_calls || message.tool_calls.length === 0) {
      return message.content;
    }

    messages.push(message);

    for (const toolCall of message.tool_calls) {
      const funcName = toolCall.function.name;
      const funcArgs = JSON.parse(toolCall.function.arguments);

      let result;
      if (funcName === "get_weather") {
        result = getWeather(funcArgs.location, funcArgs.unit);
      } else {
        result = { error: `Unknown function: ${funcName}` };
      }

      messages.push({
        role: "tool",
        tool_call_id: toolCall.id,
        content: JSON.stringify(result),
      });
    }
  }
  return null;
}

const answer = await runWithTools("What's the weather in San Francisco?");
console.log(answer);
console.log(JSON.stringify({ answer, trace }));
