"""ServerConfig: every setting of one `toolwire serve` (HTTP, tool calling and chat, and the
engine's EngineConfig), each with its default. The command line (toolwire.serve) only spells them;
toolwire.startup turns a ServerConfig into a running server's parts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from toolwire.engine.config import EngineConfig

REASONING_FIELDS = ("reasoning_content", "reasoning")


@dataclass
class ServerConfig:
    # The model, its loading and the engine's limits.
    engine: EngineConfig = field(default_factory=EngineConfig)
    # The names clients use in `model`; the first is the one reported. None: the model's own name.
    served_model_name: list[str] | None = None

    host: str = "0.0.0.0"
    port: int = 8000
    # Required as `Authorization: Bearer KEY` on every route but /health, /version and the docs;
    # None: no key.
    api_key: str | None = field(default_factory=lambda: os.environ.get("TOOLWIRE_API_KEY"))
    # Whether /metrics needs the key too (by default Prometheus may scrape it without one).
    metrics_need_key: bool = False
    # Largest request body accepted; larger ones get 413.
    max_request_bytes: int = 16 * 1024 * 1024
    log_level: str = "info"

    # None: detected from the chat template.
    tool_call_parser: str | None = None
    # A Python file that registers parsers with ToolParserManager.register_module.
    tool_parser_plugin: str | None = None
    # A template file, a Jinja string, a shipped template name or `tool_use`; None: the model's own.
    chat_template: str | None = None
    # JSON object text: defaults for sampling fields a request leaves unset.
    override_generation_config: str | None = None
    # What tool_choice auto holds a call to: "full" (names and argument schemas), "names", "off".
    auto_tool_constraint: str = "full"
    # Whether a grammar-constrained reply that loops inside a value is steered out of the loop.
    repetition_guard: bool = True
    # Whether a grammar-held reply near max_tokens is steered onto its shortest complete end.
    close_at_limit: bool = True
    reasoning_parser: str | None = None
    # The name of the reasoning text in chat completions: "reasoning_content" or "reasoning".
    reasoning_field: str = "reasoning_content"
    # Responses kept in memory for previous_response_id and GET /v1/responses/{id}; 0 keeps none.
    responses_store_size: int = 1000
    # Generation requests allowed to wait beyond the running batch (max_num_seqs); past them a
    # request gets 429 with Retry-After before any work. None: no limit (SGLang's default).
    max_queued_requests: int | None = None
    # Seconds a SIGTERM/SIGINT gives running requests to finish before the rest are ended.
    shutdown_timeout: float = 30.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is not a valid port")
        if self.max_request_bytes <= 0:
            raise ValueError("max_request_bytes must be positive")
        if self.reasoning_field not in REASONING_FIELDS:
            raise ValueError(f"reasoning_field must be one of {', '.join(REASONING_FIELDS)}")
        if self.responses_store_size < 0:
            raise ValueError("responses_store_size must not be negative")
        if self.max_queued_requests is not None and self.max_queued_requests < 0:
            raise ValueError("max_queued_requests must not be negative")
        if not 0 <= self.shutdown_timeout < float("inf"):
            raise ValueError("shutdown_timeout must be a finite number of seconds, 0 or more")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ServerConfig:
        """A config from flat options named like the fields of ServerConfig and EngineConfig (as the
        command line's dests are); a field no option names keeps its default."""
        engine_names = {f.name for f in fields(EngineConfig)}
        return cls(engine=EngineConfig.from_options(options),
                   **{name: value for name, value in options.items() if name not in engine_names})
