"""Start ``toolwire serve`` as a subprocess on a free loopback port and wait until it is healthy.

    with LocalServer() as server:               # the default model
        client = OpenAI(base_url=server.base_url, api_key="none")

Used by ``toolwire demo`` when no server answers, and by the live client tests.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


class ServerStartError(RuntimeError):
    """The server process exited, or did not become healthy in time; the message has its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LocalServer:
    def __init__(
        self,
        model: str | None = None,
        *,
        port: int | None = None,
        extra_args: list[str] | tuple[str, ...] = (),
        startup_timeout: float = 600.0,
        python: str = sys.executable,
    ):
        self.model = model
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.python = python
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def command(self) -> list[str]:
        model = [self.model] if self.model else []
        return [self.python, "-m", "toolwire.cli", "serve", *model, "--host", "127.0.0.1",
                "--port", str(self.port), *self.extra_args]

    def start(self) -> LocalServer:
        fd, log = tempfile.mkstemp(prefix="toolwire-serve-", suffix=".log")
        self._log = Path(log)
        with os.fdopen(fd, "wb") as out:
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.process.poll() is not None:
                raise ServerStartError(
                    f"`{' '.join(self.command[1:])}` exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if self._healthy():
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(
                    f"`{' '.join(self.command[1:])}` was not healthy after {self.startup_timeout:.0f}s:\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.5)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.root_url}/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
