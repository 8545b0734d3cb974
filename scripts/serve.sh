#!/usr/bin/env bash
# Installs everything, then starts the server (default: SmolLM2-135M-Instruct on port 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/toolwire serve "$@"
