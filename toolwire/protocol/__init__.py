"""OpenAI-shaped values shared by the HTTP layer, the chat layer and the formats: tool calls and
chat requests and responses."""
