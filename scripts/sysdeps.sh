#!/usr/bin/env bash
# Install the Debian packages hpcval needs, when root; otherwise name the
# missing ones in one line and exit 2.
set -euo pipefail
pkgs=("$@")
missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "hpcval setup: missing system packages: ${missing[*]} (run as root: apt-get install ${missing[*]})" >&2
    exit 2
fi
echo "hpcval setup: [apt] installing ${#missing[@]} package(s) with their dependencies: ${missing[*]}"
t0=$SECONDS
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "hpcval setup: [apt] done in $((SECONDS - t0)) s"
