#!/usr/bin/env bash
# The fuzzing harness's long profile (40 drawn values per option instead of the default
# run's few): every verb and option of the CLI, `-m slow`. Takes tens of minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest -q -m slow tests/test_fuzz_cli.py "$@"
