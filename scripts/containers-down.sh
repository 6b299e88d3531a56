#!/usr/bin/env bash
# Stops what scripts/containers-up.sh started and cleans up after it:
# kills and deletes every task and container of our containerd (all
# namespaces), stops containerd and its leftover shims by PID, unmounts
# what is mounted under the work dir, removes the empty cgroups containers
# left in every hierarchy, and removes the work dir. Idempotent.
# env: IG_CONTAINERS_DIR (default /tmp/ig-containers), as for containers-up.sh.
set -uo pipefail
W=${IG_CONTAINERS_DIR:-/tmp/ig-containers}
S=$W/containerd.sock
ctr=(ctr --address "$S" --connect-timeout 1s)

# waitgone PID SECONDS: true once PID is gone.
waitgone() { for _ in $(seq 1 $(($2 * 10))); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; return 1; }

if [ -S "$S" ] && "${ctr[@]}" version >/dev/null 2>&1; then
  for ns in $("${ctr[@]}" namespaces ls -q 2>/dev/null); do
    tasks=$("${ctr[@]}" -n "$ns" tasks ls -q 2>/dev/null)
    for t in $tasks; do "${ctr[@]}" -n "$ns" tasks kill -a -s KILL "$t" >/dev/null 2>&1; done
    [ -n "$tasks" ] && sleep 0.5
    for t in $tasks; do "${ctr[@]}" -n "$ns" tasks rm -f "$t" >/dev/null 2>&1; done
    for c in $("${ctr[@]}" -n "$ns" containers ls -q 2>/dev/null); do "${ctr[@]}" -n "$ns" containers rm "$c" >/dev/null 2>&1; done
  done
fi

if [ -f "$W/containerd.pid" ]; then
  pid=$(cat "$W/containerd.pid")
  if kill "$pid" 2>/dev/null; then
    waitgone "$pid" 5 || { kill -9 "$pid" 2>/dev/null; waitgone "$pid" 2; }
  fi
  rm -f "$W/containerd.pid"
fi

# Shims outlive containerd; ours name our socket on their command line.
for d in /proc/[0-9]*; do
  cmd=$( { tr '\0' ' ' < "$d/cmdline"; } 2>/dev/null) || continue
  case "$cmd" in
    containerd-shim*"-address $S "*) kill -9 "${d#/proc/}" 2>/dev/null ;;
  esac
done

# Mounts under the work dir (snapshots, rootfs), deepest first.
awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
  umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
done

# Empty cgroups left by containers: containerd puts them under
# /<namespace>/<id>, the tests' bare runc containers under /ig-test.
for name in default k8s.io ig-test; do
  for h in /sys/fs/cgroup/*/"$name" /sys/fs/cgroup/"$name"; do
    [ -d "$h" ] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
done
# The shim keeps runc state and FIFOs under /run/containerd whatever the
# config says; drop what is empty now.
for d in /run/containerd/runc/default /run/containerd/runc/k8s.io /run/containerd/runc /run/containerd/fifo /run/containerd/s /run/containerd; do
  rmdir "$d" 2>/dev/null
done

rm -rf "$W"
echo "containers-down: ok"
