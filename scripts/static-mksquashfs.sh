#!/usr/bin/env bash
# A static mksquashfs for podman-hpc (hpcval/containers/podman_hpc.py builds it on first use).
#   scripts/static-mksquashfs.sh [DEST]     (default .cache/podman-hpc/bin/mksquashfs.static)
#
# `podman-hpc migrate` runs "/mksq / /sqout/X.squash -comp lz4 -xattrs-exclude security.capability"
# INSIDE the image, so the binary must be static (the image has none of its libraries) and take
# -xattrs-exclude (squashfs-tools 4.6).  Debian 12 ships 4.5.1, dynamic and without that option,
# and packages no static build: build one from Debian's own source (a throwaway deb-src list,
# nothing added to /etc/apt), with gzip and lz4 only, taking -xattrs-exclude/-xattrs-include and
# their argument and ignoring them (the image's security.capability xattrs are kept: harmless).
# Needs: gcc make libc6-dev zlib1g-dev liblz4-dev dpkg-dev (static libz.a, liblz4.a, libc.a).
# Skips when DEST exists and runs.  About 3 s on 2 cores, plus the download.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/.cache/podman-hpc/bin/mksquashfs.static}
if [ -x "$dest" ] && "$dest" -version >/dev/null 2>&1; then
    echo "static mksquashfs: $dest (present)"
    exit 0
fi
missing=()
for p in gcc make libc6-dev zlib1g-dev liblz4-dev dpkg-dev; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "static mksquashfs: missing build packages: ${missing[*]} (apt-get install ${missing[*]})" >&2
    exit 2
fi
t0=$(date +%s.%N)
mkdir -p "$(dirname "$dest")"
work=$(mktemp -d "$(dirname "$dest")/.mksquashfs-src.XXXXXX")
[ -n "${KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
# the mirror the machine already uses (deb822 or one-line sources), else Debian's
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)[[:space:]]*$/\1/p' \
             /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $2 ~ /\/debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
mirror=${mirror:-http://deb.debian.org/debian}
suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
mkdir -p "$work/lists/partial" "$work/archives/partial"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" > "$work/sources.list"
# (apt checks the Release signature and the source's checksums; root's own sandbox user: no warning)
apt=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null -o APT::Sandbox::User=root
     -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives")
apt-get "${apt[@]}" update -qq
(cd "$work" && apt-get "${apt[@]}" source -qq --download-only squashfs-tools >/dev/null \
            && dpkg-source -x squashfs-tools_*.dsc sq >/dev/null 2>"$work/dpkg-source.err") \
    || { cat "$work/dpkg-source.err" >&2; exit 1; }
cd "$work/sq/squashfs-tools"
if ! grep -q '"-xattrs-exclude"' mksquashfs.c; then
    python3 - <<'EOF'
p = 'mksquashfs.c'
s = open(p).read()
anchor = 'else if(strcmp(argv[i], "-no-xattrs") == 0)'
assert anchor in s, 'squashfs-tools source changed: no -no-xattrs option to add -xattrs-exclude beside'
s = s.replace(anchor, 'else if(strcmp(argv[i], "-xattrs-exclude") == 0 || strcmp(argv[i], "-xattrs-include") == 0) {\n'
              '\t\t\tif(++i == argc) { ERROR("%s: missing regex\\n", argv[0]); exit(1); }\n'
              '\t\t}\n\t\t' + anchor)
open(p, 'w').write(s)
EOF
fi
make -j"$(nproc)" GZIP_SUPPORT=1 XZ_SUPPORT=0 LZO_SUPPORT=0 LZ4_SUPPORT=1 ZSTD_SUPPORT=0 XATTR_SUPPORT=1 \
     EXTRA_LDFLAGS=-static LDFLAGS=-static mksquashfs >/dev/null 2>"$work/make.err" \
    || { tail -20 "$work/make.err" >&2; exit 1; }
# what podman-hpc will ask of it, on a small tree
mkdir -p "$work/probe/etc" && echo x > "$work/probe/etc/x"
./mksquashfs "$work/probe" "$work/probe.squash" -comp lz4 -xattrs-exclude security.capability \
    -noappend -e /sqout -e /mksq >/dev/null 2>&1
if ldd ./mksquashfs >/dev/null 2>&1; then
    echo "static mksquashfs: the build is not static" >&2
    exit 1
fi
install -m 0755 mksquashfs "$dest.tmp" && mv -f "$dest.tmp" "$dest"
echo "static mksquashfs: $dest ($("$dest" -version | head -1), static, gzip+lz4) in" \
     "$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)") s"
