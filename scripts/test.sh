#!/usr/bin/env bash
# The test command: set up (if needed), then run the whole suite: fast tests, the real model, real data and the
# chat in a real headless Chromium. Pass pytest arguments to narrow it, e.g. `scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The browser tests drive Debian's Chromium; install it (once, quietly) when it is missing.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "qa: installing chromium and chromium-driver for the browser tests..." >&2
        log=$(mktemp)
        if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
                >"$log" 2>&1; then
            tail -20 "$log" >&2
            echo "qa: could not install chromium (see above)" >&2
            exit 1
        fi
        rm -f "$log"
    else
        echo "qa: chromium/chromedriver missing: the browser tests will be skipped (install Debian's" \
             "chromium and chromium-driver to run them)" >&2
    fi
fi
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
.venv/bin/ruff check qa tests
exec .venv/bin/python -m pytest "$@"
