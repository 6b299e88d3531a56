#!/usr/bin/env bash
# Starts a private containerd (with runc) for tests and development, and
# imports a small busybox image into its namespaces "default" and "k8s.io".
# Idempotent: installs only what is missing, reuses a containerd that is
# already serving the socket, imports the image only where it is absent.
#
# env:
#   IG_CONTAINERS_DIR  work dir (default /tmp/ig-containers). Everything
#                      lives there: config.toml, containerd.sock,
#                      containerd.pid, containerd.log, root/, state/,
#                      busybox.tar, rootfs/ (unpacked image, for runc
#                      bundles), image.ref, image.digest.
#   IG_TEST_IMAGE      image reference (default docker.io/library/busybox-test:latest)
#
# The machine has no systemd: containerd is started here, in the background,
# and scripts/containers-down.sh stops it by PID. Needs root.
set -euo pipefail
W=${IG_CONTAINERS_DIR:-/tmp/ig-containers}
IMG=${IG_TEST_IMAGE:-docker.io/library/busybox-test:latest}
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "containers-up: needs root" >&2; exit 1; }

# 1. Packages. Daemons do not start on install here (no systemd).
missing=()
for p in containerd runc busybox-static; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "containers-up: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt="apt-get -o DPkg::Lock::Timeout=600 -y -qq"
  if ! $apt install --no-install-recommends "${missing[@]}" >/dev/null; then
    $apt update >/dev/null
    $apt install --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

mkdir -p "$W/root" "$W/state" "$W/cni"
S=$W/containerd.sock
# ctr waits 10 s for a socket that is not there: bound it.
ctr=(ctr --address "$S" --connect-timeout 1s)
up() { [ -S "$S" ] && "${ctr[@]}" version >/dev/null 2>&1; }

# 2. containerd, unless ours is already up.
if up; then
  echo "containers-up: containerd already serving $S"
else
  if [ -f "$W/containerd.pid" ]; then
    old=$(cat "$W/containerd.pid")
    kill -0 "$old" 2>/dev/null && { echo "containers-up: containerd pid $old is alive but not answering on $S" >&2; exit 1; }
    rm -f "$W/containerd.pid"
  fi
  rm -f "$S"
  # A private root, state and socket; the CRI plugin must not try to lower
  # oom_score_adj (no CAP_SYS_RESOURCE) nor pick up a system CNI config.
  containerd config default | sed \
    -e "s#^root = .*#root = \"$W/root\"#" \
    -e "s#^state = .*#state = \"$W/state\"#" \
    -e "s#address = \"/run/containerd/containerd.sock\"#address = \"$S\"#" \
    -e "s#restrict_oom_score_adj = false#restrict_oom_score_adj = true#" \
    -e "s#conf_dir = \"/etc/cni/net.d\"#conf_dir = \"$W/cni\"#" > "$W/config.toml"
  grep -q "address = \"$S\"" "$W/config.toml" || { echo "containers-up: could not set the socket in $W/config.toml" >&2; exit 1; }
  setsid containerd --config "$W/config.toml" >"$W/containerd.log" 2>&1 </dev/null &
  echo $! > "$W/containerd.pid"
  for _ in $(seq 1 100); do
    up && break
    kill -0 "$(cat "$W/containerd.pid")" 2>/dev/null || { echo "containers-up: containerd exited; see $W/containerd.log" >&2; tail -5 "$W/containerd.log" >&2; exit 1; }
    sleep 0.1
  done
  up || { echo "containers-up: containerd did not answer on $S within 10 s" >&2; exit 1; }
  echo "containers-up: containerd pid $(cat "$W/containerd.pid") on $S"
fi

# 3. The image: built once, imported where missing.
if [ ! -s "$W/busybox.tar" ] || [ ! -x "$W/rootfs/bin/busybox" ] || [ "$(cat "$W/image.ref" 2>/dev/null)" != "$IMG" ]; then
  "$here/mkimage.sh" "$W/busybox.tar" "$IMG" "$W/rootfs" | tail -1 > "$W/image.digest"
  echo "$IMG" > "$W/image.ref"
fi
for ns in default k8s.io; do
  if ! "${ctr[@]}" -n "$ns" images ls -q 2>/dev/null | grep -qx "$IMG"; then
    "${ctr[@]}" -n "$ns" images import "$W/busybox.tar" >/dev/null
  fi
done
echo "containers-up: ok dir=$W image=$IMG digest=$(cat "$W/image.digest")"
