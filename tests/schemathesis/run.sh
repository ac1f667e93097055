#!/usr/bin/env bash
# Outside-in check of the API (ARCHITECTURE.md §10): schemathesis, pinned, over the committed OpenAPI
# document against a real `daftar-server demo` on its own embedded PostgreSQL, with the device
# tokens of an admin, a teacher and a parent. Fails on any 5xx, schema violation, undeclared
# status or content type (`--checks all`; the few justified exceptions are in
# schemathesis.toml beside this script). Run by `.ci/run`; anyone can run it:
#   tests/schemathesis/run.sh            (builds the server if needed; about 4 minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."

ST_VERSION=4.32.5
VENV=target/schemathesis-venv
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$ST_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$ST_VERSION"
fi
[ -x target/debug/daftar-server ] || cargo build -q -p daftar-server

work=$(mktemp -d /tmp/daftar-schemathesis-XXXXXX)
chmod 755 "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
password="schemathesis-demo-1"
DAFTAR_DEMO_PASSWORD="$password" RUST_LOG=warn target/debug/daftar-server \
  --data-dir "$work/data" demo --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
stop() {
  kill -INT "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
trap stop EXIT
for _ in $(seq 1 240); do
  curl -fs "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.5
done

# A device-bound token per role, so the sync operations are exercised too.
device_token() {
  python3 - "$base" "$1" "$password" <<'PY'
import json, sys, urllib.request
base, user, password = sys.argv[1:]
def post(path, body, token=None):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {"content-type": "application/json"})
    if token:
        req.add_header("authorization", "Bearer " + token)
    return json.load(urllib.request.urlopen(req))
login = post("/api/v1/auth/login", {"school": "demo", "username": user, "password": password})
device = post("/api/v1/sync/devices", {"name": "schemathesis " + user}, login["access_token"])
print(device["tokens"]["access_token"])
PY
}

status=0
# The admin last: its run writes (classes, users, payments) that the others need not see.
for user in teacher1 parent admin; do
  token=$(device_token "$user")
  echo "== schemathesis as $user"
  "$VENV/bin/st" --config-file tests/schemathesis/schemathesis.toml run openapi/openapi.json \
    --url "$base" -H "Authorization: Bearer $token" \
    --checks all --seed 20261202 --max-examples "${ST_MAX_EXAMPLES:-20}" --workers 1 \
    --generation-database none \
    || status=1
done
# The server's own failures (a 500 is logged as "internal error"); actix's "stream error"
# lines are malformed requests it refused at the protocol level, as it should.
if grep -E "internal error|panicked" "$work/server.log"; then status=1; fi
rm -rf "$work" 2>/dev/null || true
exit "$status"
