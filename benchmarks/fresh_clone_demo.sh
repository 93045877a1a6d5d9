#!/usr/bin/env bash
# `make demo` from a fresh clone of this repository, set-up included, timed.
# PIP_NO_CACHE_DIR=1: every wheel is downloaded again, as on a new machine.
# (Debian packages already installed here are not removed: apt's share is
# measured separately in RESULTS.md.)
#   benchmarks/fresh_clone_demo.sh
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
dir="$(mktemp -d /tmp/hpcval-fresh-XXXXXX)"
trap 'rm -rf "$dir"' EXIT
git clone -q "$src" "$dir/hpcval"
cd "$dir/hpcval"
start=$(date +%s)
PIP_NO_CACHE_DIR=1 make demo > "$dir/demo.log" 2>&1 || { tail -30 "$dir/demo.log"; exit 1; }
end=$(date +%s)
grep -E '^Report: ' "$dir/demo.log"
test -s reports/demo/index.html
echo "make demo from a fresh clone: $((end - start)) s"
