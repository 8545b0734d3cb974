"""build_state(): the startup sequence that turns a ServerConfig into the server's parts (a
ServerState): plugin and parsers, model, chat template, detected tool parser, engine, constrained
decoding. A setting that cannot be honoured is a StartupError, reported without a traceback."""

from __future__ import annotations

import json
import logging
from typing import Any

from toolwire.api.admission import Admission
from toolwire.api.metrics import Metrics
from toolwire.api.state import ServerState
from toolwire.config import ServerConfig
from toolwire.formats.base import ToolParser
from toolwire.formats.registry import ToolParserManager, tool_call_family

logger = logging.getLogger("toolwire.serve")


class StartupError(Exception):
    pass


def _tool_parser(config: ServerConfig) -> tuple[str | None, type[ToolParser] | None]:
    if config.tool_parser_plugin:
        try:
            ToolParserManager.import_tool_parser(config.tool_parser_plugin)
        except Exception as exc:
            raise StartupError(f"--tool-parser-plugin {config.tool_parser_plugin}: {type(exc).__name__}: {exc}") \
                from None
    if not config.tool_call_parser:
        return None, None
    try:
        return config.tool_call_parser, ToolParserManager.get_tool_parser(config.tool_call_parser)
    except KeyError as exc:
        raise StartupError(f"--tool-call-parser: {exc.args[0]}") from None


def _reasoning_parser(name: str | None):
    if not name:
        return None
    from toolwire.formats.registry import ReasoningParserManager

    try:
        return ReasoningParserManager.get_reasoning_parser(name)
    except KeyError as exc:
        raise StartupError(f"--reasoning-parser: {exc.args[0]}") from None


def _generation_defaults(text: str | None) -> dict[str, Any]:
    from toolwire.api.sampling import GENERATION_DEFAULT_KEYS

    if not text:
        return {}
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StartupError(f"--override-generation-config is not JSON: {exc}") from None
    if not isinstance(values, dict):
        raise StartupError("--override-generation-config must be a JSON object")
    unknown = set(values) - set(GENERATION_DEFAULT_KEYS)
    if unknown:
        raise StartupError(f"--override-generation-config: unknown keys {sorted(unknown)}; "
                           f"known: {', '.join(GENERATION_DEFAULT_KEYS)}")
    return values


def build_state(config: ServerConfig) -> ServerState:
    """Plugin and parser names first (cheap, fail fast), then the model, template and engine."""
    parser_name, parser_class = _tool_parser(config)
    reasoning_class = _reasoning_parser(config.reasoning_parser)
    defaults = _generation_defaults(config.override_generation_config)

    from toolwire.models.errors import ModelLoadError

    try:
        loaded = config.engine.load_model()
    except ModelLoadError as exc:
        raise StartupError(str(exc)) from None

    from toolwire.chat.parser_detection import detect_tool_parser
    from toolwire.chat.rendering import ChatTemplateError
    from toolwire.chat.templates import read_model_templates, resolve_chat_template

    try:
        model_templates = read_model_templates(loaded.source) or loaded.chat_template
        template = resolve_chat_template(config.chat_template, model_templates)
    except (ChatTemplateError, OSError, ValueError) as exc:
        raise StartupError(str(exc)) from None
    parser_origin = "--tool-call-parser"
    if parser_class is None:
        choice = detect_tool_parser(template)
        parser_name, parser_origin = choice.name, choice.reason
        parser_class = ToolParserManager.get_tool_parser(parser_name)
        logger.info("tool-call parser %r: %s", parser_name, choice.reason)

    from toolwire.engine.async_engine import AsyncEngine

    engine = AsyncEngine(config.engine, loaded)

    from toolwire.guided import GuidedDecoding, RepetitionGuard

    guided = GuidedDecoding.for_tokenizer(loaded.tokenizer, vocab_size=engine.engine.vocab_size,
                                          stop_token_ids=sorted(engine.engine.eos_token_ids),
                                          repetition_guard=RepetitionGuard() if config.repetition_guard else None,
                                          close_at_limit=config.close_at_limit)

    served = list(config.served_model_name or [loaded.name])
    state = ServerState(
        engine=engine, tokenizer=loaded.tokenizer, model_name=served[0], served_names=served,
        model_source=loaded.source, max_model_len=engine.max_model_len,
        vocab_size=engine.engine.vocab_size, chat_template=template, tool_parser_name=parser_name,
        tool_parser_class=parser_class, tool_family=tool_call_family(parser_name) if parser_name else None,
        reasoning_parser_name=config.reasoning_parser,
        reasoning_parser_class=reasoning_class, api_key=config.api_key, metrics_need_key=config.metrics_need_key,
        max_request_bytes=config.max_request_bytes, generation_defaults=defaults,
        chat_template_origin=template.source, tool_parser_origin=parser_origin, guided=guided,
        auto_tool_constraint=config.auto_tool_constraint, reasoning_field=config.reasoning_field,
        responses_store_size=config.responses_store_size,
        metrics=Metrics(served[0], kernel_choices=loaded.kernel_choices),
        admission=Admission(config.engine.max_num_seqs, config.max_queued_requests))
    engine.observe_queue_time(state.metrics.record_queue_time)
    return state
