#!/usr/bin/env bash
# Installs what ig needs to build and run gadgets on this machine, and
# mounts the pseudo-filesystems eBPF tracing uses. Idempotent: a machine
# that has everything is left alone (no apt run).
set -euo pipefail

packages=(clang llvm lld libbpf-dev bpftool)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing packages ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "$(id -u)" -eq 0 ]; then
  mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
  mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug || true
  mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
fi

for tool in clang llvm-strip wasm-ld bpftool go; do
  command -v "$tool" >/dev/null || { echo "setup: $tool not found in PATH" >&2; exit 1; }
done
[ -r /sys/kernel/btf/vmlinux ] || { echo "setup: this kernel exposes no BTF (/sys/kernel/btf/vmlinux)" >&2; exit 1; }
echo "setup: ok"
