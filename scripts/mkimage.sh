#!/usr/bin/env bash
# Builds a tiny OCI image from Debian's statically linked busybox, without a
# registry or a builder: a root filesystem with busybox and its applet
# links, packed as one uncompressed layer, then the config, the manifest and
# an OCI image-layout index, all in one tarball. The tarball also carries a
# docker-archive manifest.json over the same blobs, so `ctr image import`,
# `podman load` and `docker load` all accept it.
#
# usage: mkimage.sh OUT.tar IMAGE_REF [ROOTFS_DIR]
#   OUT.tar     tarball to write
#   IMAGE_REF   e.g. docker.io/library/busybox-test:latest
#   ROOTFS_DIR  if given, the unpacked root filesystem is also left there
#               (for OCI bundles run with plain runc)
# Prints the manifest digest (sha256:...) on the last line.
set -euo pipefail
out=${1:?usage: mkimage.sh OUT.tar IMAGE_REF [ROOTFS_DIR]}
ref=${2:?usage: mkimage.sh OUT.tar IMAGE_REF [ROOTFS_DIR]}
keep=${3:-}
bb=/bin/busybox
[ -x "$bb" ] || { echo "mkimage: $bb missing (apt-get install busybox-static)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rootfs=$tmp/rootfs
mkdir -p "$rootfs"/{bin,dev,etc,proc,root,sys,tmp}
cp "$bb" "$rootfs/bin/busybox"
# One symlink per applet (busybox makes them itself: one process instead
# of one ln per applet). They point at the host's resolved path of busybox
# (/usr/bin/busybox on merged-/usr hosts), so that path is made to exist in
# the image too.
"$bb" --install -s "$rootfs/bin"
real=$(readlink -f "$bb")
if [ "$real" != /bin/busybox ]; then
  mkdir -p "$rootfs$(dirname "$real")"
  ln -sf /bin/busybox "$rootfs$real"
fi
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$rootfs/etc/passwd"
printf 'root:x:0:\n' > "$rootfs/etc/group"
printf 'busybox-test\n' > "$rootfs/etc/hostname"

# Deterministic archives: same input, same digests.
pack() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf "$2" .; }

layout=$tmp/layout
mkdir -p "$layout/blobs/sha256"
# blob FILE: moves FILE into the blob store, prints "DIGEST SIZE".
blob() {
  local d s
  d=$(sha256sum "$1" | cut -d' ' -f1)
  s=$(stat -c %s "$1")
  mv "$1" "$layout/blobs/sha256/$d"
  echo "$d $s"
}

pack "$rootfs" "$tmp/layer.tar"
read -r layer_d layer_s < <(blob "$tmp/layer.tar")

arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$arch" "$layer_d" > "$tmp/config.json"
read -r config_d config_s < <(blob "$tmp/config.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
  "$config_d" "$config_s" "$layer_d" "$layer_s" > "$tmp/manifest.json"
read -r manifest_d manifest_s < <(blob "$tmp/manifest.json")

printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest_d" "$manifest_s" "$arch" "$ref" "${ref##*:}" > "$layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
printf '[{"Config":"blobs/sha256/%s","RepoTags":["%s"],"Layers":["blobs/sha256/%s"]}]' \
  "$config_d" "$ref" "$layer_d" > "$layout/manifest.json"
pack "$layout" "$out"

if [ -n "$keep" ]; then
  rm -rf "$keep"
  mkdir -p "$keep"
  cp -a "$rootfs/." "$keep/"
fi
echo "sha256:$manifest_d"
