#!/usr/bin/env bash
# `make demo`: the virtual Slurm cluster campaign when this machine allows it
# (root, network namespaces), else the local campaign; the report's title
# says which and why.  The cluster is taken down whatever happens.
set -uo pipefail
BIN=.venv/bin
why=""
if [ "$(id -u)" -ne 0 ]; then
    why="not root"
elif ! ip netns add hpcval-probe 2>/dev/null; then
    why="network namespaces unavailable"
else
    ip netns delete hpcval-probe
fi
host=$(hostname)
if [ -z "$why" ]; then
    trap '$BIN/hpcval cluster down' EXIT
    if $BIN/hpcval cluster up --nodes 3; then
        $BIN/hpcval run --campaign vcluster; rc=$?
        [ $rc -le 1 ] || exit $rc
        $BIN/hpcval report runs/vcluster/latest -o reports/demo \
            --title "hpcval demo: virtual Slurm cluster, 3 nodes, eth vs hsn, on $host" || exit $?
        echo "Report: $PWD/reports/demo/index.html"
        exit $rc
    fi
    why="hpcval cluster up failed"
fi
echo "hpcval demo: running on the local system: $why"
$BIN/hpcval run --campaign demo; rc=$?
[ $rc -le 1 ] || exit $rc
$BIN/hpcval report runs/demo/latest -o reports/demo \
    --title "hpcval demo: local system $host (virtual cluster not used: $why)" || exit $?
echo "Report: $PWD/reports/demo/index.html"
exit $rc
