#!/usr/bin/env bash
# `make demo` from a fresh clone of this repository, set-up included, timed,
# with its split: apt, pip, cluster, campaign, image, containers, report (the
# lines the set-up and scripts/demo.sh print).  PIP_NO_CACHE_DIR=1: every
# wheel is downloaded again, as on a new machine.  Debian packages already
# installed here are not removed: apt's share is what a fresh machine adds
# (0 s when they are all there; the set-up says which it installs).
# Takes a running virtual cluster down first: the clone brings up its own.
#   benchmarks/fresh_clone_demo.sh
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
[ -x "$src/.venv/bin/hpcval" ] && "$src/.venv/bin/hpcval" cluster down >/dev/null 2>&1 || true
dir="$(mktemp -d /tmp/hpcval-fresh-XXXXXX)"
trap 'rm -rf "$dir"' EXIT
git clone -q "$src" "$dir/hpcval"
cd "$dir/hpcval"
start=$(date +%s)
PIP_NO_CACHE_DIR=1 make demo > "$dir/demo.log" 2>&1 || { tail -30 "$dir/demo.log"; exit 1; }
end=$(date +%s)
grep -E '^Report: |\] done in |^hpcval demo: times:|\[  (PASSED|FAILED)  \]' "$dir/demo.log"
test -s reports/demo/index.html
echo "make demo from a fresh clone: $((end - start)) s"
