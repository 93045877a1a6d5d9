#!/usr/bin/env bash
# `make demo`: on the virtual Slurm cluster when this machine allows it (root,
# network namespaces): the openmpi image built, the bare campaign (vcluster)
# and the Charliecloud one (vcluster-containers), one report of both.  Else
# the local campaign; the report's title says which and why.  The cluster is
# taken down whatever happens.  Each step says what it does and how long it
# took; the last line sums them up.
set -uo pipefail
BIN=.venv/bin
host=$(hostname)
times=()

# step NAME CMD...: run CMD, say how long it took; its exit status
step() {
    local name=$1 t0=$SECONDS rc
    shift
    echo "hpcval demo: [$name] $*"
    "$@"; rc=$?
    times+=("$name $((SECONDS - t0)) s")
    echo "hpcval demo: [$name] done in $((SECONDS - t0)) s (exit $rc)"
    return $rc
}

# report TITLE RUN...: one report of the runs; the worst exit status of the
# runs (1: a check failed), or the report's own error
finish() {
    local title=$1 worst=$2
    shift 2
    step report $BIN/hpcval report "$@" -o reports/demo --title "$title" || return $?
    echo "Report: $PWD/reports/demo/index.html"
    local IFS=';'
    echo "hpcval demo: times: ${times[*]}" | sed 's/;/; /g'
    return "$worst"
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
    if step cluster $BIN/hpcval cluster up --nodes 3; then
        worst=0
        step campaign $BIN/hpcval run --campaign vcluster; rc=$?
        [ $rc -le 1 ] || exit $rc
        worst=$rc
        runs=(runs/vcluster/latest)
        # the container half needs Charliecloud's image; without it the
        # report says so rather than the demo failing
        if step image $BIN/hpcval image build openmpi; then
            step containers $BIN/hpcval run --campaign vcluster-containers; rc=$?
            [ $rc -le 1 ] || exit $rc
            [ $rc -gt "$worst" ] && worst=$rc
            runs+=(runs/vcluster-containers/latest)
            title="hpcval demo: virtual Slurm cluster, 3 nodes, eth vs hsn, bare vs Charliecloud, on $host"
        else
            echo "hpcval demo: the openmpi image did not build: the report has the bare half only"
            title="hpcval demo: virtual Slurm cluster, 3 nodes, eth vs hsn, bare only (image build failed), on $host"
        fi
        finish "$title" "$worst" "${runs[@]}"
        exit $?
    fi
    why="hpcval cluster up failed"
fi
echo "hpcval demo: running on the local system: $why"
step campaign $BIN/hpcval run --campaign demo; rc=$?
[ $rc -le 1 ] || exit $rc
finish "hpcval demo: local system $host (virtual cluster not used: $why)" "$rc" runs/demo/latest
exit $?
