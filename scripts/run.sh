#!/usr/bin/env bash
# The main command: set up (if needed), bring the index up to date with corpus/ (embeds only what changed),
# then open the chat at http://127.0.0.1:7860 (this machine only). Extra arguments go to `qa serve`,
# e.g. `scripts/run.sh --port 8000 --auth me:secret`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
.venv/bin/qa index
exec .venv/bin/qa serve "$@"
