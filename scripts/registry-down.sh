#!/usr/bin/env bash
# Stop the registries registry-up.sh started in $IG_REGISTRY_DIR, by PID.
set -uo pipefail
DIR=${IG_REGISTRY_DIR:?set IG_REGISTRY_DIR to the registry-up.sh work directory}
for name in plain tls; do
	f="$DIR/$name.pid"
	[ -s "$f" ] || continue
	pid=$(cat "$f")
	if kill "$pid" 2>/dev/null; then
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
	fi
	rm -f "$f"
done
