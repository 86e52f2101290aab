#!/usr/bin/env bash
# The main command: set up (if needed), bring the index up to date with corpus/ (embeds only what changed),
# then answer a sample question. Extra arguments are passed to `qa ask` as the question.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
.venv/bin/qa index
question=${*:-"When did Russia withdraw its S-300 systems from Syria?"}
.venv/bin/qa ask "$question"
