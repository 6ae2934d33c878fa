#!/usr/bin/env bash
# Serve CNN lens to a class: N app processes behind nginx on PORT (see deploy/serve.py).
#   bash deploy/serve.sh 2 8080
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
exec "$PYTHON" deploy/serve.py "$@"
