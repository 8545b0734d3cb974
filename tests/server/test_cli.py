"""`toolwire serve` from the command line: startup messages, and clear failures without tracebacks."""

from __future__ import annotations

import subprocess

import pytest

from tests.server.helpers import REPO, toolwire_command

pytestmark = pytest.mark.slow


def run_serve(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(toolwire_command() + ["serve", *args, "--port", "0"], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_startup_says_where_it_listens_and_what_it_uses(server):
    log = server.log()
    assert f"http://127.0.0.1:{server.port}" in log
    assert "hermes" in log  # the parser, detected from the default model's template
    assert "template" in log.lower()
    assert "Traceback" not in log


def test_startup_is_fast(server):
    # Generous for a loaded 2-core CI machine; the model itself loads in seconds.
    assert server.startup_seconds < 120


def test_help_lists_the_seed_flags():
    out = subprocess.run(toolwire_command() + ["serve", "--help"], capture_output=True, text=True).stdout
    for flag in ("--enable-auto-tool-choice", "--tool-call-parser", "--tool-parser-plugin", "--chat-template",
                 "--reasoning-parser", "--served-model-name", "--api-key", "--max-model-len", "--port",
                 "--tool_call_parser", "--model_dir", "--tp"):
        assert flag in out, flag


@pytest.mark.parametrize("args,message", [
    (["/no/such/model.gguf"], "/no/such/model.gguf"),
    (["--model_dir", "/no/such/folder"], "/no/such/folder"),
    (["--tool-call-parser", "no_such_parser"], "no_such_parser"),
    (["--reasoning-parser", "no_such_reasoner"], "no_such_reasoner"),
    (["--tool-parser-plugin", "/no/such/plugin.py"], "plugin"),
    (["--tp", "2"], "not supported yet"),
    (["--tensor-parallel-size", "4"], "not supported yet"),
    (["--override-generation-config", "{not json"], "JSON"),
    (["--weights", "int3"], "int3"),
])
def test_startup_errors_are_clear(args, message):
    completed = run_serve(*args)
    assert completed.returncode != 0
    output = completed.stdout + completed.stderr
    assert message in output, output
    assert "Traceback" not in output, output


def test_lightllm_spellings_accepted():
    from toolwire.serve import parse_args

    args = parse_args(["--model_dir", "/m", "--tool_call_parser", "qwen25", "--tp", "1"])
    assert args.model == "/m" and args.tool_call_parser == "qwen25" and args.tensor_parallel_size == 1
    args = parse_args(["/m", "--enable-auto-tool-choice", "--no-enable-prefix-caching", "--enforce-eager"])
    assert args.model == "/m" and not args.enable_prefix_caching and args.enforce_eager and args.port == 8000
