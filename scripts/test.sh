#!/usr/bin/env bash
# README command 2: set up with the dev extras and run the whole test suite
# (unit, property, end-to-end CLI, notebooks, lint and layer checks, real-browser map test).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=$(command -v python3.11 || command -v python3)
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,fast,distributed]"
.venv/bin/python -m pytest "$@"
