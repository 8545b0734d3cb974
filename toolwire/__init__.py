"""toolwire: an OpenAI-compatible inference server whose first concern is correct tool calling."""

__version__ = "0.1.0"
