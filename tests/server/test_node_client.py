"""The guide's Node.js example (tests/node/run_with_tools.mjs) with the `openai` npm package against
the live server. Skipped only when node is not installed; scripts/install.sh installs the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.server.helpers import MODEL_ID

pytestmark = pytest.mark.slow

NODE_DIR = Path(__file__).parent.parent / "node"


@pytest.fixture(scope="module")
def node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    if not (NODE_DIR / "node_modules" / "openai").is_dir():
        npm = shutil.which("npm")
        assert npm, "node without npm: cannot install the openai package"
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent"], cwd=NODE_DIR, check=True,
                       timeout=600)
    return node


def test_guide_node_example(server, node):
    env = dict(os.environ, TOOLWIRE_BASE_URL=server.base_url, TOOLWIRE_API_KEY="dummy", TOOLWIRE_MODEL=MODEL_ID)
    completed = subprocess.run([node, "run_with_tools.mjs"], cwd=NODE_DIR, env=env, capture_output=True,
                               text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    trace = report["trace"]
    assert trace, "no request was made"
    for response in trace[:-1]:
        choice = response["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        for call in choice["message"]["tool_calls"]:
            assert call["id"] and call["function"]["name"] == "get_weather"
            json.loads(call["function"]["arguments"])
    # The loop ended with the model's final answer.
    assert report["answer"], completed.stdout
    assert trace[-1]["choices"][0]["finish_reason"] in ("stop", "length")
