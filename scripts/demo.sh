#!/usr/bin/env bash
# `make demo`: the virtual Slurm cluster campaign when this machine allows it
# (root, network namespaces), else the local campaign; the report's title
# says which and why.  The cluster is taken down whatever happens.
set -uo pipefail
BIN=.venv/bin
host=$(hostname)

# run_and_report CAMPAIGN TITLE: exit status 0/1 of the run (1: a check
# failed), or the error of the run or the report
run_and_report() {
    $BIN/hpcval run --campaign "$1"; local rc=$?
    [ $rc -le 1 ] || return $rc
    $BIN/hpcval report "runs/$1/latest" -o reports/demo --title "$2" || return $?
    echo "Report: $PWD/reports/demo/index.html"
    return $rc
}

why=""
if [ "$(id -u)" -ne 0 ]; then
    why="not root"
elif ! ip netns add hpcval-probe 2>/dev/null; then
    why="network namespaces unavailable"
else
    ip netns delete hpcval-probe
fi
if [ -z "$why" ]; then
    trap '$BIN/hpcval cluster down' EXIT
    if $BIN/hpcval cluster up --nodes 3; then
        run_and_report vcluster "hpcval demo: virtual Slurm cluster, 3 nodes, eth vs hsn, on $host"
        exit $?
    fi
    why="hpcval cluster up failed"
fi
echo "hpcval demo: running on the local system: $why"
run_and_report demo "hpcval demo: local system $host (virtual cluster not used: $why)"
exit $?
