"""`toolwire demo` against the scripted loopback server, and its fall-back to a started server."""

from __future__ import annotations

import io
import json

import pytest

from tests.client.scripted_server import Reply, ScriptedServer, call
from toolwire.client import demo


def weather_script() -> list[Reply]:
    return [Reply(tool_calls=[call("get_weather", {"location": "San Francisco"}, id="call_w")]),
            Reply(content="It's 62°F and foggy in San Francisco right now.")]


@pytest.mark.parametrize("stream", [False, True])
def test_demo_prints_the_transcript(scripted, stream):
    scripted.push(*weather_script())
    out = io.StringIO()
    argv = ["--base-url", scripted.base_url, "--tool-choice", "required", "--json"]
    assert demo.main(argv + (["--stream"] if stream else []), out=out) == 0
    text = out.getvalue()
    assert "user: What's the weather in San Francisco?" in text
    assert 'assistant: [tool_call call_w] get_weather({"location": "San Francisco"})' in text
    assert 'tool [call_w] get_weather: {"temperature": 62, "unit": "fahrenheit"' in text
    assert "assistant: It's 62°F and foggy in San Francisco right now." in text
    assert "2 model call(s), 1 tool execution(s) (0 failed), finished with a text reply" in text
    transcript = json.loads(text[text.index("\n[") + 1:])
    assert [m["role"] for m in transcript] == ["user", "assistant", "tool", "assistant"]
    first, second = scripted.requests
    assert first["model"] == "scripted"  # the server's first model, as none was given
    assert (first["tool_choice"], second["tool_choice"]) == ("required", "auto")
    assert first["tools"] == [demo.get_weather.definition]


def test_demo_named_tool_choice_and_model(scripted):
    scripted.push(*weather_script())
    out = io.StringIO()
    assert demo.main(["--base-url", scripted.base_url, "--model", "mine", "--tool-choice", "get_weather"],
                     out=out) == 0
    assert scripted.requests[0]["model"] == "mine"
    assert scripted.requests[0]["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


def test_demo_says_when_the_tool_did_not_run(scripted):
    scripted.push(Reply(content="I cannot check the weather."))
    out = io.StringIO()
    assert demo.main(["--base-url", scripted.base_url], out=out) == 0
    assert "try --tool-choice required" in out.getvalue()


def test_demo_says_when_a_forced_call_was_not_enforced(scripted):
    scripted.push(Reply(content="I cannot check the weather."))
    out = io.StringIO()
    assert demo.main(["--base-url", scripted.base_url, "--tool-choice", "required"], out=out) == 0
    assert "answered tool_choice=required with text" in out.getvalue()


class FakeLocalServer:
    """Stands in for `toolwire serve`: a scripted server that 'starts' like LocalServer does."""

    started: list[FakeLocalServer] = []

    def __init__(self, model=None, *, startup_timeout=0):
        self.model = model
        self.inner = ScriptedServer(weather_script())
        self.command = ["python", "-m", "toolwire.cli", "serve", "--port", "0"]
        self.stopped = False

    def start(self):
        FakeLocalServer.started.append(self)
        self.inner.start()
        return self

    @property
    def base_url(self):
        return self.inner.base_url

    def stop(self):
        self.stopped = True
        self.inner.stop()


@pytest.mark.parametrize("argv", [["--base-url", "http://127.0.0.1:9/v1"], ["--in-process"]])
def test_demo_starts_a_server_when_none_answers_or_when_asked(monkeypatch, argv):
    monkeypatch.setattr(demo, "LocalServer", FakeLocalServer)
    FakeLocalServer.started.clear()
    out = io.StringIO()
    assert demo.main(argv + ["--tool-choice", "required"], out=out) == 0
    (server,) = FakeLocalServer.started
    assert server.stopped
    assert "finished with a text reply" in out.getvalue()


def test_demo_reports_a_server_that_cannot_start(monkeypatch, capsys):
    class Failing(FakeLocalServer):
        def start(self):
            raise demo.ServerStartError("no model here")

    monkeypatch.setattr(demo, "LocalServer", Failing)
    assert demo.main(["--in-process"], out=io.StringIO()) == 1
    assert "could not start a server: no model here" in capsys.readouterr().err
