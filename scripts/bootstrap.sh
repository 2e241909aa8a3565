# Sourced by scripts/demo and scripts/test: make .venv and install Onebar with
# the extra named in ONEBAR_EXTRA ("demo" or "test"). Needs only Python >= 3.11.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-python3}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

if ! command -v "$PY" >/dev/null || ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: Onebar needs Python 3.11 or newer as '$PY' (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if [ ! -x "$ROOT/.venv/bin/python" ]; then
  if ! "$PY" -m venv "$ROOT/.venv" >/dev/null 2>&1; then
    rm -rf "$ROOT/.venv"
    # Debian and Ubuntu ship venv separately from python3.
    if command -v apt-get >/dev/null && as_root apt-get update -qq && \
       as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; then
      "$PY" -m venv "$ROOT/.venv"
    else
      echo "error: '$PY -m venv' failed; install the venv module (Debian: apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
fi
echo "Installing Onebar and its ${ONEBAR_EXTRA} dependencies into .venv ..." >&2
"$ROOT/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[${ONEBAR_EXTRA}]"
