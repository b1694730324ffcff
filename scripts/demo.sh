#!/usr/bin/env bash
# Install the plugin into .venv, seed the demo app (first run only) and serve it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/datasette dataservice demo --metadata metadata.yml "$@"
