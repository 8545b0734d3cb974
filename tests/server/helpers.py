"""What the server tests share: the live server process, the settings the session's servers run
with, tool definitions, and the checks a user makes on tool calls."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).parent
REPO = HERE.parent.parent
MODEL_ID = "SmolLM2-135M-Instruct"
AUX_MODEL_ID = "deepseek-r1"
AUX_API_KEY = "test-secret-key"
MAX_MODEL_LEN = 2048
MAX_REQUEST_BYTES = 1_000_000
# Greedy and short unless a request says otherwise: the examples as written set neither.
GENERATION_DEFAULTS = '{"temperature": 0, "max_tokens": 64}'
STARTUP_TIMEOUT_S = float(os.environ.get("TOOLWIRE_TEST_STARTUP_TIMEOUT", "300"))


def toolwire_command() -> list[str]:
    script = Path(sys.executable).parent / "toolwire"
    if script.exists():
        return [str(script)]
    found = shutil.which("toolwire")
    return [found] if found else [sys.executable, "-m", "toolwire.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    def __init__(self, name: str, args: list[str], api_key: str | None = None):
        self.name, self.args, self.api_key = name, args, api_key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + "/v1"
        self.log_path = Path(tempfile.mkdtemp(prefix=f"toolwire-{name}-")) / "server.log"
        self.process: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> "LiveServer":
        command = toolwire_command() + ["serve", *self.args, "--host", "127.0.0.1", "--port", str(self.port)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._log_file = open(self.log_path, "wb")
        started = time.monotonic()
        self.process = subprocess.Popen(command, stdout=self._log_file, stderr=subprocess.STDOUT, env=env,
                                        cwd=REPO)
        while time.monotonic() - started < STARTUP_TIMEOUT_S:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} server exited with {self.process.returncode}:\n{self.log()[-4000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    self.startup_seconds = time.monotonic() - started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"{self.name} server not healthy after {STARTUP_TIMEOUT_S}s:\n{self.log()[-4000:]}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()

    def metrics(self) -> dict[str, float]:
        """Unlabelled view of /metrics: metric name (labels dropped) -> value, last one wins."""
        text = httpx.get(self.url + "/metrics", timeout=30).text
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name_part, _, value = line.rpartition(" ")
                values[name_part.split("{")[0]] = float(value)
        return values


# ---------------------------------------------------------------- shared request pieces

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "City and state, e.g., 'San Francisco, CA'"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location", "unit"],
        },
    },
}

TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the current local time in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def assert_valid_calls(tool_calls, tools) -> None:
    """What a user checks on each call: a known name, an id, and arguments that are a JSON object
    valid against that tool's schema."""
    import json

    import jsonschema

    schemas = {t["function"]["name"]: t["function"].get("parameters") or {} for t in tools}
    ids = set()
    for call in tool_calls:
        call = call if isinstance(call, dict) else call.model_dump()
        assert call["type"] == "function"
        assert call["id"] and call["id"] not in ids, call
        ids.add(call["id"])
        name = call["function"]["name"]
        assert name in schemas, f"unknown function {name!r}"
        arguments = json.loads(call["function"]["arguments"])
        assert isinstance(arguments, dict)
        jsonschema.validate(arguments, schemas[name])
