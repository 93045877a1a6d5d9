#!/usr/bin/env bash
# `make setup`'s Python half: .venv with requirements.txt and hpcval, rebuilt
# whole (--clear: a pip killed mid-way leaves a package that imports nothing
# and that a second pip run takes for installed).  Says what it does and how
# long it took; the caller writes the stamp only once the packages import.
#   scripts/venv.sh PYTHON VENV
set -euo pipefail
python=$1 venv=$2
t0=$SECONDS
echo "hpcval setup: [pip] creating $venv and installing $(grep -cvE '^\s*(#|$)' requirements.txt) requirements" \
     "with their dependencies (tensorflow-cpu is the largest: about 2 min in all)"
"$python" -m venv --clear "$venv"
# pip's own "Collecting ..." lines are the progress; no download bars in logs
"$venv/bin/pip" install --disable-pip-version-check --progress-bar off -r requirements.txt \
    | grep --line-buffered -E '^(Collecting|Installing collected|Successfully installed)' \
    | sed -u -E 's/^(Installing collected packages|Successfully installed):? (.{60}).+/\1 \2.../; s/^/hpcval setup: [pip] /'
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
"$venv/bin/python" -c 'import hpcval, reframe, pandas, scipy, matplotlib, mpi4py, tensorflow' 2>/dev/null \
    || { echo "hpcval setup: $venv does not import its packages; run make again to rebuild it" >&2; exit 1; }
echo "hpcval setup: [pip] done in $((SECONDS - t0)) s"
