#!/usr/bin/env bash
# The test command: set up (if needed), then run the whole suite: fast tests, the real model, real data and the
# chat in a real headless Chromium. Pass pytest arguments to narrow it, e.g. `scripts/test.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The browser tests drive Debian's Chromium; the no-network tests (tests/test_no_network.py) watch `qa serve` with
# strace in a network namespace (ip: iproute2); the OCR tests need Tesseract. Install what is missing (once, quietly).
missing=()
command -v chromium >/dev/null && command -v chromedriver >/dev/null || missing+=(chromium chromium-driver)
command -v strace >/dev/null || missing+=(strace)
command -v ip >/dev/null || missing+=(iproute2)
command -v tesseract >/dev/null || missing+=(tesseract-ocr tesseract-ocr-eng)  # OCR of scanned PDFs (tests/test_ocr.py)
if (( ${#missing[@]} )); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "qa: installing ${missing[*]} for the browser and no-network tests..." >&2
        log=$(mktemp)
        if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") \
                >"$log" 2>&1; then
            tail -20 "$log" >&2
            echo "qa: could not install ${missing[*]} (see above)" >&2
            exit 1
        fi
        rm -f "$log"
    else
        echo "qa: ${missing[*]} missing: the tests that need them will be skipped (install these Debian" \
             "packages to run them)" >&2
    fi
fi
export HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False
.venv/bin/ruff check qa tests
exec .venv/bin/python -m pytest "$@"
