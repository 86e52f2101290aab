#!/usr/bin/env bash
# Create .venv with everything qa needs. Idempotent: does nothing when the venv matches pyproject.toml and this file.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
# Scanned PDFs are read by Tesseract (Debian packages). Installed where we may (root with apt-get); elsewhere qa
# indexes everything else and lists each scan with this same install command.
if ! command -v tesseract >/dev/null; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "qa: installing tesseract-ocr tesseract-ocr-eng (OCR of scanned PDFs)..." >&2
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng) \
            >/dev/null 2>&1 || echo "qa: could not install Tesseract: scanned PDFs will be listed, not read" >&2
    else
        echo "qa: Tesseract is not installed, so scanned PDFs will be listed, not read; to read them:" \
             "sudo apt-get install tesseract-ocr tesseract-ocr-eng" >&2
    fi
fi
stamp=.venv/.qa-setup-stamp
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    exit 0
fi
echo "qa: setting up .venv (the first time takes a minute or two)..." >&2
log=$(mktemp)
pip_install() {
    if ! .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@" >>"$log" 2>&1; then
        grep -v "is ignored: it is neither" "$log" | tail -40 >&2
        echo "qa: setup failed while installing: $*" >&2
        exit 1
    fi
}
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
pip_install --upgrade pip
# torch first and pinned: this version resolves to the CPU wheel here; a plain install drags in a CUDA build.
pip_install "torch==2.13.0"
pip_install -e ".[test,cluster]"  # the cluster tests run a real Ray cluster
rm -f "$log"
echo "$want" > "$stamp"
echo "qa: .venv is ready" >&2
