#!/usr/bin/env bash
# The test command: set up (if needed), then run the whole suite: fast tests, the real model and real data.
# Pass pytest arguments to narrow it, e.g. `scripts/test.sh -m "not slow"` for the fast tests alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
.venv/bin/ruff check qa tests
exec .venv/bin/python -m pytest "$@"
