"""`toolwire bench` against a scripted loopback server (every way of counting and failing) and
against a live toolwire server."""

from __future__ import annotations

import itertools
import json
import random
import threading

import pytest

from tests.evals.live_server import toolwire_base_url
from tests.evals.openai_stub import OpenAIStub, StubReply, words_reply
from toolwire.bench.serve_bench import RequestRecord, level_figures, main, parse_args, word_prompt

LEVEL_KEYS = {"concurrency", "requests", "completed", "failed", "duration_s", "output_tokens",
              "output_tokens_per_s", "requests_per_s", "ttft_ms", "tpot_ms", "e2e_ms", "mean_output_tokens",
              "token_count_source", "finish_reasons", "errors"}


def run_bench(capsys, *args: str) -> dict:
    code = main([*args, "--quiet"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    lines = captured.out.strip().splitlines()
    assert lines[0].split()[:2] == ["conc", "reqs"]  # the table comes first
    return json.loads(lines[-1])


# ---------------------------------------------------------------- the same checks, stub and live


@pytest.fixture(params=["stub", "toolwire"])
def any_server(request):
    if request.param == "toolwire":
        yield toolwire_base_url()
        return
    with OpenAIStub(words_reply) as stub:
        yield stub.base_url


def test_bench_summary(any_server, capsys):
    summary = run_bench(capsys, "--base-url", any_server, "--concurrency", "1", "2", "--requests", "3",
                        "--max-tokens", "8", "--prompt-tokens", "32")
    assert summary["ignore_eos"] is True and summary["notes"] == []
    assert [level["concurrency"] for level in summary["levels"]] == [1, 2]
    for level in summary["levels"]:
        assert LEVEL_KEYS <= level.keys()
        assert level["requests"] == level["completed"] == 3
        assert level["failed"] == 0 and level["errors"] == {}
        assert level["token_count_source"] == "usage"
        assert level["output_tokens"] == 3 * 8  # ignore_eos: every reply runs to max_tokens
        assert level["output_tokens_per_s"] > 0 and level["requests_per_s"] > 0
        assert 0 < level["ttft_ms"]["p50"] <= level["ttft_ms"]["p99"]
        assert 0 < level["tpot_ms"]["p50"] <= level["tpot_ms"]["p99"]
        assert level["e2e_ms"]["p50"] >= level["ttft_ms"]["p50"]
        assert level["finish_reasons"] == {"length": 3}


# ---------------------------------------------------------------- stub only


def test_request_body_is_standard_plus_ignore_eos(capsys):
    with OpenAIStub(words_reply) as stub:
        summary = run_bench(capsys, "--base-url", stub.base_url, "--requests", "2", "--max-tokens", "4")
    assert summary["model"] == "stub-model"
    assert len(stub.requests) == 3  # the probe, then 2
    for body in stub.requests[1:]:
        assert body["stream"] is True
        assert body["stream_options"] == {"include_usage": True}
        assert body["ignore_eos"] is True
        assert body["max_tokens"] == 4 and body["temperature"] == 0
        assert body["model"] == "stub-model"
        assert "tools" not in body
    assert stub.requests[1]["messages"] != stub.requests[2]["messages"]  # no shared prompt


def test_server_that_rejects_ignore_eos(capsys):
    with OpenAIStub(words_reply, reject_fields=("ignore_eos",)) as stub:
        summary = run_bench(capsys, "--base-url", stub.base_url, "--requests", "3", "--max-tokens", "4")
    assert summary["ignore_eos"] is False
    assert "rejected ignore_eos" in summary["notes"][0] and "--no-ignore-eos" in summary["notes"][0]
    assert summary["levels"][0]["completed"] == 3
    assert all("ignore_eos" not in body for body in stub.requests[1:] if body["max_tokens"] == 4)


def test_server_that_rejects_stream_options_too(capsys):
    with OpenAIStub(words_reply, reject_fields=("ignore_eos", "stream_options")) as stub:
        summary = run_bench(capsys, "--base-url", stub.base_url, "--requests", "2", "--max-tokens", "5")
    assert summary["ignore_eos"] is False and summary["usage_requested"] is False
    assert len(summary["notes"]) == 2
    level = summary["levels"][0]
    assert level["completed"] == 2 and level["token_count_source"] == "deltas" and level["output_tokens"] == 10


def test_no_ignore_eos_never_sends_it(capsys):
    with OpenAIStub(words_reply, reject_fields=("ignore_eos",)) as stub:
        summary = run_bench(capsys, "--base-url", stub.base_url, "--requests", "2", "--max-tokens", "4",
                            "--no-ignore-eos")
    assert summary["ignore_eos"] is False and summary["notes"] == []
    assert all("ignore_eos" not in body for body in stub.requests)


def test_tokens_come_from_usage_when_given(capsys):
    # 5 streamed pieces, but the server says 12 tokens (several tokens per piece): usage wins.
    with OpenAIStub(lambda body: StubReply(content="a b c d e", completion_tokens=12)) as stub:
        summary = run_bench(capsys, "--base-url", stub.base_url, "--requests", "2", "--max-tokens", "12")
    level = summary["levels"][0]
    assert level["token_count_source"] == "usage" and level["output_tokens"] == 24


def test_tokens_are_counted_from_deltas_without_usage(capsys):
    with OpenAIStub(lambda body: StubReply(content="a b c d e", usage=False)) as stub:
        summary = run_bench(capsys, "--base-url", stub.base_url, "--requests", "2", "--max-tokens", "12")
    level = summary["levels"][0]
    assert level["token_count_source"] == "deltas" and level["output_tokens"] == 10
    assert level["finish_reasons"] == {"stop": 2}


def test_errors_by_kind(capsys):
    kinds = itertools.cycle([
        StubReply(status=503),
        StubReply(status=429),
        StubReply(raw_events=['{"choices": [{"index": 0, "delta": {"content": "x"}}]}', "{not json"]),
        StubReply(content="a b c d e", cut_after=2),
        StubReply(raw_events=['{"error": {"message": "engine died"}}']),
        StubReply(drop_connection=True),
        StubReply(content="a b", piece_delay_s=10.0),  # far past --timeout, however busy the machine
        StubReply(content="fine reply here"),
    ])
    lock = threading.Lock()

    def respond(body):
        with lock:
            return next(kinds)

    with OpenAIStub(respond) as stub:
        summary = run_bench(capsys, "--base-url", stub.base_url, "--requests", "8", "--concurrency", "8",
                            "--no-probe", "--timeout", "4")
    level = summary["levels"][0]
    assert level["errors"] == {"http_503": 1, "http_429": 1, "malformed_stream": 2, "stream_error": 1,
                               "connection": 1, "timeout": 1}
    assert level["completed"] == 1 and level["failed"] == 7
    assert level["output_tokens"] == 3


def test_weather_tools(capsys):
    call = ("get_weather", '{"location": "Paris, France"}')
    with OpenAIStub(lambda body: StubReply(tool_calls=[call])) as stub:
        summary = run_bench(capsys, "--base-url", stub.base_url, "--requests", "2", "--tools", "weather",
                            "--tool-choice", "required", "--max-tokens", "16")
    assert summary["levels"][0]["tool_call_rate"] == 1.0
    body = stub.requests[-1]
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert body["tool_choice"] == "required"
    assert "weather" in body["messages"][0]["content"]


def test_named_tool_choice_and_bfcl_tools(capsys):
    with OpenAIStub(words_reply) as stub:
        run_bench(capsys, "--base-url", stub.base_url, "--requests", "3", "--tools", "bfcl",
                  "--tool-choice", "math_factorial", "--max-tokens", "4")
    names = [[t["function"]["name"] for t in body["tools"]] for body in stub.requests[1:]]
    assert ["math_factorial"] in names
    assert all("." not in n for ns in names for n in ns)
    assert stub.requests[1]["tool_choice"] == {"type": "function", "function": {"name": "math_factorial"}}


def test_prompt_file(capsys, tmp_path):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("Tell me about lighthouses.")
    with OpenAIStub(words_reply) as stub:
        summary = run_bench(capsys, "--base-url", stub.base_url, "--requests", "2", "--prompt-file", str(prompt),
                            "--max-tokens", "3")
    assert all(b["messages"] == [{"role": "user", "content": "Tell me about lighthouses."}] for b in stub.requests)
    assert summary["prompt_tokens_requested"] is None


def test_summary_file_and_per_request_lines(capsys, tmp_path):
    with OpenAIStub(words_reply) as stub:
        summary = run_bench(capsys, "--base-url", stub.base_url, "--requests", "3", "--max-tokens", "3",
                            "--output", str(tmp_path / "s.json"), "--per-request", str(tmp_path / "r.jsonl"))
    assert json.loads((tmp_path / "s.json").read_text()) == summary
    records = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert len(records) == 3 and all(r["ok"] and r["output_tokens"] == 3 for r in records)


def test_unreachable_server_is_an_error_exit(capsys):
    from toolwire.client.local_server import free_port

    assert main(["--base-url", f"http://127.0.0.1:{free_port()}", "--requests", "1", "--quiet"]) == 1
    assert "toolwire bench: error" in capsys.readouterr().err


# ---------------------------------------------------------------- pieces


def test_concurrency_levels_parse_either_way():
    assert parse_args(["--base-url", "http://h:1", "--concurrency", "1", "8", "32"]).concurrency == [1, 8, 32]
    assert parse_args(["--base-url", "http://h:1", "--concurrency", "1,8", "32"]).concurrency == [1, 8, 32]
    assert parse_args(["--base-url", "http://h:1"]).base_url == "http://h:1/v1"
    assert parse_args(["--base-url", "http://h:1/v1/"]).base_url == "http://h:1/v1"
    with pytest.raises(SystemExit):
        parse_args(["--base-url", "http://h:1", "--concurrency", "0"])
    with pytest.raises(SystemExit):
        parse_args(["--base-url", "http://h:1", "--tool-choice", "required"])  # needs --tools


def test_word_prompt_length():
    text = word_prompt(128, random.Random(0))
    assert 100 <= len(text.split()) <= 130
    assert word_prompt(128, random.Random(0)) == text


def test_level_figures():
    records = []
    for i, (ttft, latency, tokens) in enumerate([(0.1, 1.1, 11), (0.2, 2.2, 21), (0.3, 0.3, 1)]):
        records.append(RequestRecord(index=i, concurrency=2, ok=True, ttft_s=ttft, latency_s=latency,
                                     output_tokens=tokens, token_count_source="usage", finish_reason="length"))
    records.append(RequestRecord(index=3, concurrency=2, error_kind="timeout", error="timeout: slow"))
    figures = level_figures(2, 4, 4.0, records)
    assert figures["output_tokens"] == 33 and figures["output_tokens_per_s"] == 8.25
    assert figures["completed"] == 3 and figures["failed"] == 1 and figures["errors"] == {"timeout": 1}
    assert figures["requests_per_s"] == 0.75
    assert figures["tpot_ms"]["p50"] == pytest.approx(100.0)  # a 1-token reply has no TPOT
    assert figures["ttft_ms"]["p50"] == pytest.approx(200.0)
    assert figures["first_error"] == "timeout: slow"


def test_progress_is_shown_on_stderr_unless_quiet(capsys):
    with OpenAIStub(words_reply) as stub:
        args = ["--base-url", stub.base_url, "--concurrency", "2", "--requests", "4", "--max-tokens", "4"]
        assert main(args) == 0
        shown = capsys.readouterr()
        assert main([*args, "--quiet"]) == 0
        quiet = capsys.readouterr()
    bars = [line for line in shown.err.splitlines() if "[" in line and "/4" in line]
    assert bars and bars[-1].split("]")[1].split()[0] == "4/4", shown.err
    assert "#" * 28 in bars[-1]
    assert "/4" not in quiet.err
    assert json.loads(shown.out.splitlines()[-1])["levels"][0]["completed"] == 4
