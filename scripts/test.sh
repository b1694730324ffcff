#!/usr/bin/env bash
# Install everything the tests need into .venv, then run ruff and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check datasette_dataservice tests
exec .venv/bin/pytest "$@"
