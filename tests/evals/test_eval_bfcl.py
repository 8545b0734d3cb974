"""`toolwire eval bfcl` end to end: against a scripted loopback server (a perfect model, a broken
one) and against a live toolwire server."""

from __future__ import annotations

import importlib.metadata
import json
import shutil

import pytest

from tests.evals.bfcl_helpers import perfect_responder
from tests.evals.live_server import toolwire_base_url
from tests.evals.openai_stub import OpenAIStub, StubReply
from toolwire.cli import main as toolwire_main
from toolwire.evals.bfcl import main
from toolwire.evals.bfcl.data import CATEGORIES, PACKAGE, RELEVANCE_CATEGORIES, find_data_dir, load_category

SUMMARY_KEYS = {"accuracy", "valid_call_rate", "no_call_rate", "truncated_rate", "http_error_rate", "mean_latency_s",
                "mean_output_tokens", "count", "categories"}
LINE_KEYS = {"id", "category", "request", "message", "finish_reason", "calls", "verdict", "reason", "latency_s",
             "completion_tokens"}


def run_eval(capsys, *args: str) -> dict:
    code = toolwire_main(["eval", "bfcl", *args, "--quiet"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.strip().splitlines()
    assert "category" in lines[0]  # the table comes first, then where the data came from
    summary = json.loads(lines[-1])
    assert lines[-2] == f"data: {summary['config']['data_source']} ({summary['config']['data_dir']})"
    return summary


def entries(*categories: str, limit: int = 3):
    return [e for c in categories for e in load_category(find_data_dir(), c, limit)]


@pytest.fixture
def perfect_stub():
    with OpenAIStub(perfect_responder(entries(*CATEGORIES))) as stub:
        yield stub


# ---------------------------------------------------------------- the same checks, stub and live


@pytest.fixture(params=["stub", "toolwire"])
def any_server(request):
    if request.param == "toolwire":
        yield toolwire_base_url()
        return
    with OpenAIStub(perfect_responder(entries("simple_python", "irrelevance"))) as stub:
        yield stub.base_url


def test_eval_summary(any_server, capsys, tmp_path):
    output = tmp_path / "bfcl.jsonl"
    summary = run_eval(capsys, "--base-url", any_server, "--category", "simple_python", "irrelevance",
                       "--limit", "3", "--max-tokens", "64", "--concurrency", "3", "--output", str(output))
    assert SUMMARY_KEYS <= summary.keys()
    assert summary["count"] == 6
    assert set(summary["categories"]) == {"simple_python", "irrelevance"}
    for figs in [summary, *summary["categories"].values()]:
        for key in ("accuracy", "valid_call_rate", "no_call_rate", "http_error_rate"):
            assert 0.0 <= figs[key] <= 1.0
        assert figs["http_error_rate"] == 0.0
        assert figs["mean_latency_s"] > 0
        assert 0 < figs["mean_output_tokens"] <= 64
    assert summary["categories"]["simple_python"]["count"] == 3
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [line["id"] for line in lines] == ["simple_python_0", "simple_python_1", "simple_python_2",
                                              "irrelevance_0", "irrelevance_1", "irrelevance_2"]
    for line in lines:
        assert LINE_KEYS <= line.keys()
        assert line["verdict"] in ("correct", "wrong")
        assert line["request"]["tool_choice"] == ("auto" if line["category"] == "irrelevance" else "required")
    assert lines[1]["request"]["tools"] == ["math_factorial"]
    assert summary["config"]["data_source"] == f"{PACKAGE} {importlib.metadata.version(PACKAGE)}"


def test_live_categories(any_server, capsys, tmp_path):
    output = tmp_path / "bfcl.jsonl"
    summary = run_eval(capsys, "--base-url", any_server, "--category", "live_simple", "live_irrelevance",
                       "live_relevance", "--limit", "2", "--max-tokens", "32", "--concurrency", "3",
                       "--output", str(output))
    assert summary["count"] == 6 and summary["http_error_rate"] == 0.0
    assert list(summary["categories"]) == ["live_simple", "live_irrelevance", "live_relevance"]
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    for line in lines:
        assert line["verdict"] in ("correct", "wrong")
        assert line["request"]["tool_choice"] == ("auto" if line["category"] in RELEVANCE_CATEGORIES else "required")
        # relevance: right exactly when the reply calls a tool
        if line["category"] == "live_relevance":
            assert (line["verdict"] == "correct") == bool(line["calls"]), line
        if line["category"] == "live_irrelevance":
            assert (line["verdict"] == "correct") == (not line["calls"]), line


# ---------------------------------------------------------------- stub only


def test_perfect_model_scores_one_in_every_category(perfect_stub, capsys, tmp_path):
    output = tmp_path / "out.jsonl"
    summary = run_eval(capsys, "--base-url", perfect_stub.base_url, "--category", "simple_python", "multiple",
                       "parallel", "parallel_multiple", "irrelevance", "--limit", "3", "--output", str(output))
    assert summary["accuracy"] == 1.0
    assert summary["count"] == 15
    for name, figs in summary["categories"].items():
        assert figs["accuracy"] == 1.0, name
        assert figs["valid_call_rate"] == (0.0 if name == "irrelevance" else 1.0), name
        assert figs["no_call_rate"] == (1.0 if name == "irrelevance" else 0.0), name
    assert summary["config"]["model"] == "stub-model"  # the first of GET /v1/models
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    factorial = next(line for line in lines if line["id"] == "simple_python_1")
    assert factorial["calls"][0]["name"] == "math.factorial"  # mapped back from math_factorial
    assert factorial["calls"][0]["sent_name"] == "math_factorial"


def test_all_runs_every_single_turn_category(perfect_stub, capsys):
    summary = run_eval(capsys, "--base-url", perfect_stub.base_url, "--category", "all", "--limit", "2")
    assert list(summary["categories"]) == list(CATEGORIES)
    assert summary["accuracy"] == 1.0 and summary["count"] == 2 * len(CATEGORIES)
    assert summary["categories"]["live_relevance"]["no_call_rate"] == 0.0
    assert summary["categories"]["live_irrelevance"]["no_call_rate"] == 1.0


def test_data_dir_overrides_the_package(perfect_stub, capsys, tmp_path):
    source = find_data_dir()
    (tmp_path / "possible_answer").mkdir()
    for name in ("BFCL_v4_parallel.json", "possible_answer/BFCL_v4_parallel.json", "BFCL_v4_irrelevance.json"):
        shutil.copy(source / name, tmp_path / name)
    summary = run_eval(capsys, "--base-url", perfect_stub.base_url, "--data-dir", str(tmp_path), "--category", "all",
                       "--limit", "1")
    assert list(summary["categories"]) == ["parallel", "irrelevance"] and summary["accuracy"] == 1.0
    assert summary["config"]["data_source"] == "--data-dir" and summary["config"]["data_dir"] == str(tmp_path)


def test_missing_data_is_an_error_exit(capsys, tmp_path):
    code = main(["--base-url", "http://127.0.0.1:9/v1", "--data-dir", str(tmp_path), "--quiet"])
    assert code == 2
    assert "BFCL_v4_simple_python.json" in capsys.readouterr().err


def test_streamed_replies_are_judged_the_same(perfect_stub, capsys):
    summary = run_eval(capsys, "--base-url", perfect_stub.base_url, "--category", "parallel", "simple_java",
                       "irrelevance", "--limit", "3", "--stream")
    assert summary["accuracy"] == 1.0
    assert all(body.get("stream") for body in perfect_stub.requests)


def test_request_fields(perfect_stub, capsys):
    run_eval(capsys, "--base-url", perfect_stub.base_url, "--model", "chosen", "--category", "multiple",
             "irrelevance", "--limit", "2", "--strict", "--tool-choice", "auto", "--temperature", "0.5",
             "--max-tokens", "77")
    assert len(perfect_stub.requests) == 4
    for body in perfect_stub.requests:
        assert body["model"] == "chosen"
        assert body["tool_choice"] == "auto"
        assert body["temperature"] == 0.5 and body["max_tokens"] == 77
        assert "stream" not in body
        for tool in body["tools"]:
            assert tool["type"] == "function" and tool["function"]["strict"] is True
            assert "." not in tool["function"]["name"]
            assert tool["function"]["parameters"]["type"] == "object"
        assert body["messages"][0]["role"] == "user"


def test_default_tool_choice_and_not_strict(perfect_stub, capsys):
    run_eval(capsys, "--base-url", perfect_stub.base_url, "--category", "simple_python", "irrelevance",
             "--limit", "1")
    choices = [body["tool_choice"] for body in perfect_stub.requests]
    assert sorted(choices) == ["auto", "required"]
    assert all("strict" not in t["function"] for body in perfect_stub.requests for t in body["tools"])
    assert all(body["temperature"] == 0 for body in perfect_stub.requests)


def test_http_errors_are_counted_not_judged(capsys, tmp_path):
    output = tmp_path / "out.jsonl"
    with OpenAIStub(lambda body: StubReply(status=503, error_message="overloaded")) as stub:
        summary = run_eval(capsys, "--base-url", stub.base_url, "--category", "simple_python", "--limit", "2",
                           "--output", str(output))
    assert summary["http_error_rate"] == 1.0 and summary["accuracy"] == 0.0
    assert summary["no_call_rate"] == 0.0
    assert summary["errors"] == {"http_503": 2}
    line = json.loads(output.read_text().splitlines()[0])
    assert line["verdict"] == "error" and line["http_status"] == 503 and "overloaded" in line["reason"]


def test_wrong_and_invalid_calls(capsys, tmp_path):
    replies = {
        # float for an integer parameter: schema-valid JSON, but judged wrong
        "simple_python_0": StubReply(tool_calls=[("calculate_triangle_area", '{"base": 10.0, "height": 5}')]),
        # arguments that are not JSON
        "simple_python_1": StubReply(tool_calls=[("math_factorial", '{"number": 5')]),
        # text instead of a call
        "simple_python_2": StubReply(content="The hypotenuse is 6.4."),
    }
    known = {json.dumps(e.messages): e.id for e in entries("simple_python")}
    output = tmp_path / "out.jsonl"
    with OpenAIStub(lambda body: replies[known[json.dumps(body["messages"])]]) as stub:
        summary = run_eval(capsys, "--base-url", stub.base_url, "--category", "simple_python", "--limit", "3",
                           "--output", str(output))
    assert summary["accuracy"] == 0.0
    assert summary["valid_call_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert summary["no_call_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert summary["truncated_rate"] == 0.0
    lines = {line["id"]: line for line in map(json.loads, output.read_text().splitlines())}
    assert [lines[f"simple_python_{i}"]["finish_reason"] for i in range(3)] == ["tool_calls", "tool_calls", "stop"]
    assert "float" in lines["simple_python_0"]["reason"]
    assert lines["simple_python_1"]["calls"][0]["schema_problem"] == "arguments are not valid JSON"
    assert lines["simple_python_2"]["reason"] == "no tool call"


@pytest.mark.parametrize("stream", [False, True])
def test_replies_cut_by_max_tokens_are_counted(capsys, stream):
    with OpenAIStub(lambda body: StubReply(content="one two three four five six")) as stub:
        summary = run_eval(capsys, "--base-url", stub.base_url, "--category", "simple_python", "--limit", "2",
                           "--max-tokens", "2", *(["--stream"] if stream else []))
    assert summary["truncated_rate"] == 1.0 and summary["no_call_rate"] == 1.0


def test_unreachable_server_is_an_error_exit(capsys):
    from toolwire.client.local_server import free_port

    code = main(["--base-url", f"http://127.0.0.1:{free_port()}", "--limit", "1", "--quiet"])
    assert code == 1
    assert "cannot list models" in capsys.readouterr().err


def test_bad_arguments():
    with pytest.raises(SystemExit):
        main(["--base-url", "http://x", "--category", "multi_turn_base"])
    with pytest.raises(SystemExit):
        main(["--base-url", "http://x", "--tool-choice", "none"])
