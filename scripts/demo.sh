#!/usr/bin/env bash
# Install the plugin into .venv (only when pyproject.toml changed since the last install),
# seed the demo app (first run only) and serve it. Arguments go to the demo command, e.g.
#   bash scripts/demo.sh -c datasette.yml -s plugins.datasette-dataservice.rate_limits false
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.dataservice-installed
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -x .venv/bin/datasette ] || [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -e .
  echo "$wanted" > "$stamp"
fi
exec .venv/bin/datasette dataservice demo --metadata metadata.yml "$@"
