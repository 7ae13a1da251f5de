#!/usr/bin/env bash
# File descriptor exhaustion: drip serve under `ulimit -n 64` is filled with subscribers until the
# kernel refuses it descriptors. New connections are then answered 503 and the log says why; the
# subscribers already connected keep receiving events (published over a kept-alive connection); the
# server does not spin meanwhile; and once some subscribers leave, new ones are served again.
# Then the same for drip proxy under `ulimit -n 40` (each client holds two descriptors there: its own
# and the upstream's): a client it cannot serve gets 503 naming the descriptors, not a 502 blaming
# the upstream, and the proxy's output says so (whichever ran out first: accepting the client or
# opening the upstream socket); the streams already open go on; freed, it serves again.
#   Tests/e2e/descriptor-exhaustion.sh PATH/TO/drip
set -euo pipefail
drip="$1"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "descriptor-exhaustion: FAILED: $*"; echo "--- server log"; grep -v 'connected to\|left news' "$work/serve.log" || true; exit 1; }

(ulimit -n 64 && exec "$drip" serve --port 0 --heartbeat 0 > "$work/serve.log" 2>&1) &
for _ in $(seq 100); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.05; done
url="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)"
[ -n "$url" ] || fail "drip serve printed no URL"
pid="$(pgrep -f "$drip serve --port 0 --heartbeat 0" | head -1)"

python3 - "${url##*:}" "$pid" <<'PY' || fail "see above"
import socket, sys, time
port, pid = int(sys.argv[1]), sys.argv[2]

def cpu_seconds():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100

def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s

def subscribe():
    """A subscriber, or the status line of the refusal."""
    s = connect()
    s.sendall(b"GET /streams/news HTTP/1.1\r\nHost: x\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            return None, head.split(b"\r\n")[0] or b"(closed without an answer)"
        head += chunk
    status = head.split(b"\r\n")[0]
    return (s, status) if b" 200 " in status else (None, status)

def read_until(s, needle, seconds=5):
    s.settimeout(seconds)
    seen = b""
    while needle not in seen:
        chunk = s.recv(4096)
        if not chunk:
            break
        seen += chunk
    return needle in seen

publisher = connect()
subscribers, refusal = [], None
for _ in range(200):
    s, status = subscribe()
    if s is None:
        refusal = status
        break
    subscribers.append(s)
assert refusal is not None, "200 subscribers and no refusal under ulimit -n 64"
assert refusal == b"HTTP/1.1 503 Service Unavailable", f"the refused connection got {refusal!r}"
print(f"{len(subscribers)} subscribers, then {refusal.decode()}")

before = cpu_seconds()
time.sleep(1)
for _ in range(3):
    s, status = subscribe()
    assert s is None and status == b"HTTP/1.1 503 Service Unavailable", f"still exhausted, yet {status!r}"
spent = cpu_seconds() - before
assert spent < 0.5, f"the server used {spent:.2f} s of CPU in a second of exhaustion (spinning?)"

publisher.sendall(b"POST /streams/news?id=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nstill")
assert read_until(publisher, b'"clients":%d' % len(subscribers)), "the publish did not reach every subscriber"
for index, s in enumerate(subscribers):
    assert read_until(s, b"data: still\n\n"), f"subscriber {index} did not get the event"

for s in subscribers[:10]:
    s.close()
time.sleep(0.3)
s, status = subscribe()
assert s is not None, f"after descriptors were freed a new subscriber got {status!r}"
print("served again after 10 subscribers left")
PY
grep -q 'cannot accept connections: out of file descriptors (limit 64)' "$work/serve.log" || fail "no log line for the exhaustion"
grep -q 'accepting connections again' "$work/serve.log" || fail "no log line for the recovery"

kill "$pid"
"$drip" serve --port 0 --heartbeat 0 > "$work/upstream.log" 2>&1 &
for _ in $(seq 100); do grep -q 'listening on' "$work/upstream.log" && break; sleep 0.05; done
upstream="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/upstream.log" | head -1)"
proxy_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
(ulimit -n 40 && exec "$drip" proxy "$upstream" --port "$proxy_port" > "$work/proxy.log" 2>&1) &
for _ in $(seq 100); do grep -q 'point the client at' "$work/proxy.log" && break; sleep 0.05; done
python3 - "$proxy_port" "${upstream##*:}" <<'PY' || { cat "$work/proxy.log"; fail "drip proxy, see above"; }
import socket, sys, time
proxy_port, upstream_port = int(sys.argv[1]), int(sys.argv[2])

def subscribe():
    s = socket.create_connection(("127.0.0.1", proxy_port), timeout=5)
    s.sendall(b"GET /streams/news HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = s.recv(4096)
        if not chunk:
            break
        answer += chunk
    if b" 200 " in answer.split(b"\r\n")[0]:
        return s, answer
    s.settimeout(2)
    try:
        while chunk := s.recv(4096):
            answer += chunk
    except OSError:
        pass
    return None, answer

subscribers, refusal = [], None
for _ in range(100):
    s, answer = subscribe()
    if s is None:
        refusal = answer
        break
    subscribers.append(s)
assert refusal is not None, "100 clients through the proxy and no refusal under ulimit -n 40"
assert refusal.startswith(b"HTTP/1.1 503 "), f"the refused client got {refusal[:200]!r}"
assert b"out of file descriptors" in refusal, f"the refusal does not say why: {refusal!r}"
print(f"{len(subscribers)} clients through the proxy, then 503")

publisher = socket.create_connection(("127.0.0.1", upstream_port), timeout=5)
publisher.sendall(b"POST /streams/news?id=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nstill")
for index, s in enumerate(subscribers):
    s.settimeout(5)
    seen = b""
    while b"data: still" not in seen:
        chunk = s.recv(4096)
        assert chunk, f"client {index} lost its stream"
        seen += chunk

for s in subscribers[:5]:
    s.close()
time.sleep(0.3)
s, answer = subscribe()
assert s is not None, f"after descriptors were freed a new client got {answer[:200]!r}"
print("the proxy served again after 5 clients left")
PY
grep -qE 'problem: (the proxy is )?out of file descriptors \(the limit is 40\)' "$work/proxy.log" || { cat "$work/proxy.log"; fail "drip proxy printed nothing about the descriptors"; }
echo "descriptor-exhaustion: ok"
