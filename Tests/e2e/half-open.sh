#!/usr/bin/env bash
# A half-open connection: the client's network vanishes without a FIN or RST (here: the loopback
# interface of a private network namespace goes down under a connected subscriber). The server's
# next heartbeat is never acknowledged, so after --dead-peer-timeout the client is dropped with a
# reason that says so, and the stream counts no clients. Runs as root in its own namespace
# (unshare -n), so nothing outside it is touched.
#   Tests/e2e/half-open.sh PATH/TO/drip
set -euo pipefail
drip="$1"
if [ "${DRIP_IN_NAMESPACE:-}" != 1 ]; then
    exec unshare --net env DRIP_IN_NAMESPACE=1 "$0" "$@"
fi
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; ip link set lo up; rm -rf "$work"' EXIT
fail() { echo "half-open: FAILED: $*"; echo "--- server log"; cat "$work/serve.log" || true; exit 1; }

ip link set lo up
"$drip" serve --port 0 --heartbeat 200ms --dead-peer-timeout 1s > "$work/serve.log" 2>&1 &
for _ in $(seq 100); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.05; done
url="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)"
[ -n "$url" ] || fail "drip serve printed no URL"

# A subscriber that reads the first heartbeat, then keeps its socket open and does nothing.
python3 - "${url##*:}" > "$work/client.log" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /streams/news HTTP/1.1\r\nHost: x\r\n\r\n")
seen = b""
while b"heartbeat" not in seen:
    seen += s.recv(4096)
print("subscribed", flush=True)
time.sleep(60)
PY
for _ in $(seq 100); do grep -q subscribed "$work/client.log" && break; sleep 0.05; done
grep -q subscribed "$work/client.log" || fail "the subscriber never saw a heartbeat: $(cat "$work/client.log")"

ip link set lo down
for _ in $(seq 100); do grep -q 'half-open' "$work/serve.log" && break; sleep 0.05; done
ip link set lo up
grep -q 'half-open' "$work/serve.log" || fail "the vanished client was not dropped within 5 s"
clients="$(curl -s "$url/streams")"
# The stream a request created goes with its last client (or lists none).
grep -q '"clients":\[{' <<< "$clients" && fail "the stream still lists clients: $clients"
echo "half-open: ok (dropped: $(grep -o 'left news: .*' "$work/serve.log" | head -1 | cut -c12-))"
