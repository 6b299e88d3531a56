#!/usr/bin/env bash
# Start two private Debian docker-registry (distribution 2.8) instances for
# tests and local use, in the work directory $IG_REGISTRY_DIR:
#   - plain HTTP, no auth, on $IG_REGISTRY_PLAIN (default 127.0.0.1:5710)
#   - TLS (self-signed CA) + htpasswd user gadget/s3cret on $IG_REGISTRY_TLS
#     (default 127.0.0.1:5711)
# Writes $IG_REGISTRY_DIR/registry.env (PLAIN, TLS, CA, USER, PASSWORD) and
# the PIDs in *.pid. Stop with registry-down.sh.
set -euo pipefail

DIR=${IG_REGISTRY_DIR:?set IG_REGISTRY_DIR to a work directory}
PLAIN=${IG_REGISTRY_PLAIN:-127.0.0.1:5710}
TLS=${IG_REGISTRY_TLS:-127.0.0.1:5711}
USER_NAME=${IG_REGISTRY_USER:-gadget}
PASSWORD=${IG_REGISTRY_PASSWORD:-s3cret}

if ! command -v docker-registry >/dev/null || ! command -v htpasswd >/dev/null; then
	apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends docker-registry apache2-utils >&2
fi

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

if [ ! -s "$DIR/tls.crt" ]; then
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$DIR/tls.key" -out "$DIR/tls.crt" -days 2 \
		-subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
fi
htpasswd -Bbn "$USER_NAME" "$PASSWORD" > "$DIR/htpasswd"

cat > "$DIR/config-plain.yml" <<YAML
version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: $DIR/data-plain }, delete: { enabled: true } }
http: { addr: $PLAIN, secret: ig-test-plain }
YAML
cat > "$DIR/config-tls.yml" <<YAML
version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: $DIR/data-tls }, delete: { enabled: true } }
auth: { htpasswd: { realm: ig-test, path: $DIR/htpasswd } }
http: { addr: $TLS, secret: ig-test-tls, tls: { certificate: $DIR/tls.crt, key: $DIR/tls.key } }
YAML

start() { # name config
	if [ -s "$DIR/$1.pid" ] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; then
		return
	fi
	nohup docker-registry serve "$2" </dev/null >"$DIR/$1.log" 2>&1 &
	echo $! > "$DIR/$1.pid"
}
start plain "$DIR/config-plain.yml"
start tls "$DIR/config-tls.yml"

wait_ready() { # name url expected-code curl-args...
	local name=$1 url=$2 want=$3; shift 3
	for _ in $(seq 1 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$@" "$url" || true)
		if [ "$code" = "$want" ]; then return 0; fi
		if ! kill -0 "$(cat "$DIR/$name.pid")" 2>/dev/null; then
			echo "registry $name exited:" >&2; cat "$DIR/$name.log" >&2; return 1
		fi
		sleep 0.1
	done
	echo "registry $name not ready at $url (last status $code)" >&2; cat "$DIR/$name.log" >&2
	return 1
}
wait_ready plain "http://$PLAIN/v2/" 200
wait_ready tls "https://$TLS/v2/" 401 --cacert "$DIR/tls.crt"

cat > "$DIR/registry.env" <<ENV
PLAIN=$PLAIN
TLS=$TLS
CA=$DIR/tls.crt
USER=$USER_NAME
PASSWORD=$PASSWORD
ENV
cat "$DIR/registry.env"
