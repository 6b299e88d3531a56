#!/usr/bin/env bash
# Stop the registries registry-up.sh started in $IG_REGISTRY_DIR, by PID.
set -uo pipefail
DIR=${IG_REGISTRY_DIR:?set IG_REGISTRY_DIR to the registry-up.sh work directory}

# alive PID: the process runs. A zombie has exited and only waits for
# init to reap it (registry-up.sh's shell is gone, so init is its parent,
# and some inits reap seconds later): it counts as stopped.
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[[ $st != Z* ]]
}

pids=()
for name in plain tls; do
	f="$DIR/$name.pid"
	[ -s "$f" ] || continue
	pid=$(cat "$f")
	if kill "$pid" 2>/dev/null; then
		pids+=("$pid")
	fi
	rm -f "$f"
done
for pid in "${pids[@]}"; do
	for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
	if alive "$pid"; then kill -9 "$pid"; fi
done
