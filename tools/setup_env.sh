#!/usr/bin/env bash
# Create or update the project's virtual environment (.venv in the repo).
#   bash tools/setup_env.sh          # idempotent; a no-op when up to date
# Order matters: torch first, then mmengine/mmdet and the rest, then the mmcv
# source build against that torch
# (tools/install_mmcv.py, cached under ~/.cache/csdet).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
STAMP="$VENV/.csdet-setup-stamp"
# The stamp holds a hash of every file that decides what gets installed.
want=$(cat requirements/*.txt tools/setup_env.sh tools/install_mmcv.py setup.py | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi
echo "[setup_env] setting up $VENV with $PYTHON ($($PYTHON --version))"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"
$PIP install -r requirements/torch.txt -r requirements/build.txt
# mmcv is installed without its dependencies; these bring them (opencv,
# addict, mmengine, ...) before its ops are verified.
$PIP install -r requirements/runtime.txt -r requirements/tests.txt
"$VENV/bin/python" tools/install_mmcv.py
# Test-only YOLOv5 reference (requirements/reference.txt): its own folder,
# no dependencies, so it never replaces the pinned torch / numpy.
$PIP install -r requirements/reference_deps.txt
$PIP install --no-deps --upgrade --target "$VENV/reference" \
  -r requirements/reference.txt
$PIP install --no-deps --no-build-isolation -e .
"$VENV/bin/python" -c "import csdet, mmdet, mmcv, torch; print('[setup_env] ok: csdet', csdet.__version__, 'mmdet', mmdet.__version__, 'mmcv', mmcv.__version__, 'torch', torch.__version__, 'cuda' if torch.cuda.is_available() else 'cpu')"
echo "$want" > "$STAMP"
