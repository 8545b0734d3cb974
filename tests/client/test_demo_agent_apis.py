"""`toolwire demo --api responses|messages`: the guide's loop through the APIs agents speak, against
the live default model."""

from __future__ import annotations

import io
import re

import pytest

from toolwire.client import demo


@pytest.mark.slow
@pytest.mark.parametrize("api", ["responses", "messages"])
@pytest.mark.parametrize("stream", [False, True])
def test_demo_runs_get_weather_through_each_api(live_server, api, stream):
    out = io.StringIO()
    argv = ["--base-url", live_server.base_url, "--api", api, "--tool-choice", "required", "--max-steps", "2",
            "--max-tokens", "96"] + (["--stream"] if stream else [])
    assert demo.main(argv, out=out) == 0
    transcript = out.getvalue()
    assert f"through {api}" in transcript
    assert re.search(r"^tool \[[^\]]+\] get_weather: \{\"temperature\": 62", transcript, re.M), transcript
    summary = re.search(r"# (\d+) model call\(s\), (\d+) tool execution\(s\) \((\d+) failed\)", transcript)
    assert summary and int(summary[1]) >= 1 and int(summary[2]) >= 1 and summary[3] == "0", transcript
