#!/usr/bin/env bash
# README command 1: set up a virtual environment and run the demo on the embedded data.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(command -v python3.11 || command -v python3)
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/hotspots demo --out outputs "$@"
