#!/usr/bin/env bash
# Install everything the tests need into .venv, then run ruff and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser tests drive Debian's Chromium (CI runs this script as root).
command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
# The multi-node tests put Debian's haproxy in front of several `datasette serve` nodes.
command -v haproxy >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy)
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check datasette_dataservice tests
exec .venv/bin/pytest -n 2 "$@"
