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

    config = parse_args(["--model_dir", "/m", "--tool_call_parser", "qwen25", "--tp", "1"])
    assert config.engine.model == "/m" and config.tool_call_parser == "qwen25"
    config = parse_args(["/m", "--enable-auto-tool-choice", "--no-enable-prefix-caching", "--enforce-eager"])
    assert config.engine.model == "/m" and not config.engine.enable_prefix_caching and config.engine.enforce_eager
    assert config.port == 8000


def test_a_flag_left_out_keeps_the_configs_default(monkeypatch):
    from toolwire.config import ServerConfig
    from toolwire.engine.config import EngineConfig
    from toolwire.serve import parse_args

    monkeypatch.setenv("TOOLWIRE_API_KEY", "from-the-environment")
    assert parse_args([]) == ServerConfig()
    assert parse_args([]).api_key == "from-the-environment"
    assert parse_args(["--weights", "int8", "--block-size", "32", "--no-repetition-guard"]) == ServerConfig(
        engine=EngineConfig(weights="int8", block_size=32), repetition_guard=False)


@pytest.mark.parametrize("args,message", [
    (["--port", "70000"], "not a valid port"),
    (["--block-size", "0"], "block_size must be positive"),
    (["/a", "--model", "/b"], "two models given"),
])
def test_invalid_settings_are_usage_errors(args, message, capsys):
    from toolwire.serve import parse_args

    with pytest.raises(SystemExit) as exit_info:
        parse_args(args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
