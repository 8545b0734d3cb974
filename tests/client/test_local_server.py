"""LocalServer's start / health wait / stop, with a stand-in for the python executable."""

from __future__ import annotations

import os
import stat
import sys
import textwrap

import httpx
import pytest

from toolwire.client.local_server import LocalServer, ServerStartError

FAKE_SERVE = textwrap.dedent("""
    import sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    assert sys.argv[1:4] == ["-m", "toolwire.cli", "serve"], sys.argv
    port = int(sys.argv[sys.argv.index("--port") + 1])
    host = sys.argv[sys.argv.index("--host") + 1]

    class Health(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    print("fake serve listening", flush=True)
    HTTPServer((host, port), Health).serve_forever()
""")


def fake_python(tmp_path, body: str) -> str:
    script = tmp_path / "serve.py"
    script.write_text(body)
    wrapper = tmp_path / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    return str(wrapper)


def test_starts_waits_for_health_and_stops(tmp_path):
    server = LocalServer(python=fake_python(tmp_path, FAKE_SERVE), startup_timeout=60)
    with server:
        assert httpx.get(f"{server.root_url}/health").status_code == 200
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        assert "fake serve listening" in server.log_tail()
        process = server.process
    assert process.poll() is not None


def test_a_server_that_exits_is_reported_with_its_log(tmp_path):
    python = fake_python(tmp_path, "import sys\nprint('no model today')\nsys.exit(3)\n")
    with pytest.raises(ServerStartError, match=r"exited with 3:\nno model today"):
        LocalServer(python=python, startup_timeout=60).start()


def test_a_server_that_never_gets_healthy_times_out(tmp_path):
    python = fake_python(tmp_path, "import time\ntime.sleep(60)\n")
    server = LocalServer(python=python, startup_timeout=1)
    with pytest.raises(ServerStartError, match="not healthy after 1s"):
        server.start()
    assert server.process.poll() is not None  # it was stopped


def test_command_line():
    server = LocalServer("model.gguf", port=1234, extra_args=["--seed", "1"], python="py")
    assert server.command == ["py", "-m", "toolwire.cli", "serve", "model.gguf", "--host", "127.0.0.1",
                              "--port", "1234", "--seed", "1"]
    assert os.path.basename(LocalServer().python).startswith("python")
