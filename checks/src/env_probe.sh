#!/bin/sh
# What a containerized job really sees: HOME, whether the image's ENV was
# applied, and where two HOME-dependent package lookups resolve.
#   python: Python's own import (a user site under HOME precedes the image's)
#   julia:  Julia's depot rule: first entry of JULIA_DEPOT_PATH, else ~/.julia
echo "# HOME: $HOME"
echo "# image ENV applied: ${HPCVAL_IMAGE:+yes}${HPCVAL_IMAGE:-no}"
echo "# PYTHONNOUSERSITE: ${PYTHONNOUSERSITE:-unset}"
py=$(python3 -c 'import hpcval_probe, os; print(os.path.realpath(hpcval_probe.__file__), hpcval_probe.ORIGIN)' 2>/dev/null)
echo "lookup python hpcval_probe: ${py:-not found}"
depot=${JULIA_DEPOT_PATH:-$HOME/.julia}
depot=${depot%%:*}
if [ -r "$depot/packages/HpcvalProbe/ORIGIN" ]; then
    echo "lookup julia HpcvalProbe: $depot/packages/HpcvalProbe $(cat "$depot/packages/HpcvalProbe/ORIGIN")"
else
    echo "lookup julia HpcvalProbe: not found"
fi
