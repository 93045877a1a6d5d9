#!/bin/sh
# How docker.tar and oci.tar were written (buildah 1.28.2, Debian 12, as root):
# two layers; the second changes etc/motd and deletes opt/app/gone (a whiteout).
set -e
export STORAGE_DRIVER=vfs
t=$(mktemp -d)
mkdir -p "$t/etc" "$t/opt/app" "$t/bin"
echo one > "$t/etc/motd"; echo keep > "$t/opt/app/keep"; echo gone > "$t/opt/app/gone"
ln -s ../opt/app/keep "$t/bin/keep-link"
c=$(buildah from scratch)
buildah copy "$c" "$t" /
buildah config --env HPCVAL_TEST=yes --env PATH=/bin:/usr/bin "$c"
buildah commit "$c" layer1
c2=$(buildah from layer1)
m=$(buildah mount "$c2")
rm "$m/opt/app/gone"; echo two > "$m/etc/motd"
buildah umount "$c2"
buildah commit "$c2" layer2
buildah push layer2 docker-archive:docker.tar:hpcval/fixture:2
buildah push layer2 oci-archive:oci.tar:hpcval/fixture:2
buildah rm "$c" "$c2"; rm -rf "$t"
