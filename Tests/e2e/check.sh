#!/usr/bin/env bash
# drip check server and drip check client against real peers:
# - server: drip serve (publishing with ?id=auto) passes every check, in text, JSON lines, TAP and
#   JUnit; six Python servers broken one way each (no ids, gzip never flushed, Content-Length,
#   events held 2 s, no heartbeat, text/plain) each get the FAIL or WARN that names the fault;
# - client: drip connect passes every check; headless Chromium's EventSource on a page of another
#   origin passes every check with --end 204; httpx-sse (no reconnection by design) fails the
#   reconnection checks and says why; a bad Python client (reconnects at once, never sends
#   Last-Event-ID, ignores the 204) fails retry, last-event-id and end.
#   Tests/e2e/check.sh PATH/TO/drip
set -euo pipefail
drip="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "check: FAILED: $*"; for log in "$work"/*.log; do echo "--- $log"; cat "$log"; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# verdicts FILE.jsonl: "name=VERDICT name=VERDICT …" in report order
verdicts() { python3 -c 'import json,sys; print(" ".join(o["check"] + "=" + o["verdict"] for o in map(json.loads, open(sys.argv[1]))))' "$1"; }

# --- drip serve passes every check
port=$(free_port)
"$drip" serve --port "$port" --retry 3s --heartbeat 1s > "$work/serve.log" 2>&1 &
for _ in $(seq 100); do grep -q listening "$work/serve.log" && break; sleep 0.05; done
url="http://127.0.0.1:$port/streams/news"
"$drip" check server "$url" --publish "$url?id=auto" --idle-budget 3s --origin http://page.test --json --junit "$work/server.xml" \
    > "$work/server.jsonl" 2> "$work/server-progress.log" || fail "drip check server against drip serve exited $?: $(cat "$work/server.jsonl")"
all="$(verdicts "$work/server.jsonl")"
[ "$(echo "$all" | tr ' ' '\n' | grep -vc '=PASS$')" = 0 ] || fail "not all PASS against drip serve: $all"
python3 - "$work/server.xml" <<'PY' || fail "the JUnit XML is not valid"
import sys, xml.etree.ElementTree as tree
root = tree.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites" and root.get("failures") == "0", root.attrib
assert len(root.findall("./testsuite/testcase")) == 15
PY
"$drip" check server "$url" --idle-budget 2s --tap > "$work/server.tap" 2>/dev/null || true
python3 - "$work/server.tap" <<'PY' || fail "the TAP output is not TAP 13: $(cat "$work/server.tap")"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines[0] == "TAP version 13" and lines[1] == "1..15", lines[:2]
tests = [l for l in lines if re.match(r"(not )?ok \d+ - ", l)]
assert len(tests) == 15, tests
assert any("# SKIP" in l for l in tests if " cors" in l), "cors without --origin is a SKIP"
assert any(l.startswith("ok") and "buffering" in l for l in tests), "buffering without --publish is a WARN (ok)"
PY
echo "check: drip serve: all PASS (JSON lines, JUnit, TAP valid)"

# --- broken servers: each fault is named
for case in noids:ids=WARN gzip:compression=FAIL length:length=FAIL buffered:buffering=FAIL noheartbeat:heartbeat=FAIL textplain:content-type=FAIL; do
    mode="${case%%:*}"
    expected="${case#*:}"
    python3 "$root/Tests/e2e/lib/broken_sse_server.py" "$mode" > "$work/broken-$mode.log" 2>&1 &
    broken=$!
    for _ in $(seq 100); do [ -s "$work/broken-$mode.log" ] && break; sleep 0.05; done
    burl="http://127.0.0.1:$(head -1 "$work/broken-$mode.log")/events"
    status=0
    "$drip" check server "$burl" --publish "$burl" --idle-budget 2s --json > "$work/broken-$mode.jsonl" 2>/dev/null || status=$?
    kill "$broken" 2>/dev/null || true
    got="$(verdicts "$work/broken-$mode.jsonl")"
    echo " $got " | grep -q " $expected " || fail "broken server '$mode': expected $expected, got: $got"
    case "$expected" in *=FAIL) [ "$status" = 1 ] || fail "broken server '$mode': exit status $status, not 1" ;; esac
    echo "check: broken server '$mode': $expected"
done

# --- clients
start_client_check() { # NAME [options]: starts drip check client, sets $check_url
    local name="$1"
    shift
    "$drip" check client --json --timeout 60s "$@" > "$work/client-$name.jsonl" 2> "$work/client-$name.log" &
    check_pid=$!
    for _ in $(seq 100); do grep -q 'point the client at' "$work/client-$name.log" && break; sleep 0.05; done
    check_url="$(grep -o 'http://127.0.0.1:[0-9]*/events' "$work/client-$name.log" | head -1)"
}
finish_client_check() { # NAME: waits for the run; sets $got to its verdicts
    wait "$check_pid" || true
    got="$(verdicts "$work/client-$1.jsonl")"
}

start_client_check drip-connect
timeout 60 "$drip" connect "$check_url" > "$work/connect.log" 2>&1 || true
finish_client_check drip-connect
[ "$(echo "$got" | tr ' ' '\n' | grep -vc '=PASS$')" = 0 ] || fail "drip connect did not pass every check: $got"
echo "check: drip connect: all PASS"

start_client_check chromium --end 204
page_port=$(free_port)
mkdir -p "$work/page"
cat > "$work/page/index.html" <<HTML
<!doctype html><title>check</title><script>
var seen = [];
var source = new EventSource("$check_url");
source.onmessage = function (e) { seen.push(e.lastEventId + ":" + e.data); };
</script>
HTML
python3 -m http.server "$page_port" --bind 127.0.0.1 --directory "$work/page" > "$work/page.log" 2>&1 &
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$page_port/" && break; sleep 0.05; done
python3 "$root/Tests/SSEServerTests/Browser/cdp.py" "http://127.0.0.1:$page_port/index.html" "JSON.stringify(seen)" \
    --until 'never' --timeout 15 > "$work/browser.log" 2> "$work/chromium.log" || true
finish_client_check chromium
[ "$(echo "$got" | tr ' ' '\n' | grep -vc '=PASS$')" = 0 ] || fail "Chromium did not pass every check: $got"
echo "check: Chromium (a page of another origin): all PASS"

source "$root/Tests/e2e/lib/peers-venv.sh"
start_client_check httpx-sse
"$peers_python" - "$check_url" > "$work/httpx.log" 2>&1 <<'PY' || true
import sys, httpx
from httpx_sse import connect_sse
with httpx.Client(timeout=10) as client, connect_sse(client, "GET", sys.argv[1]) as source:
    for event in source.iter_sse():
        print(event.id, event.data)
PY
finish_client_check httpx-sse
for name in reconnect retry last-event-id; do echo " $got " | grep -q " $name=FAIL " || fail "httpx-sse: $name is not FAIL: $got"; done
grep -q 'did not come back' "$work/client-httpx-sse.jsonl" || fail "httpx-sse: the report does not say why"
echo "check: httpx-sse: reconnection checks FAIL (it does not reconnect)"

start_client_check bad-client
python3 - "$check_url" > "$work/bad-client.log" 2>&1 <<'PY' || true
# Reconnects at once, never sends Last-Event-ID, ignores a 204 (a few times, then stops).
import socket, sys, time, urllib.parse
url = urllib.parse.urlsplit(sys.argv[1])
target = url.path
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    try:
        s = socket.create_connection((url.hostname, url.port), timeout=5)
    except OSError:
        break
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".encode())
    answer = b""
    try:
        while chunk := s.recv(4096):
            answer += chunk
    except OSError:
        pass
    s.close()
    for line in answer.split(b"\r\n"):
        if line.lower().startswith(b"location: "):
            target = line[10:].decode()
    time.sleep(0.05)
PY
finish_client_check bad-client
for name in retry last-event-id id-persists partial end; do echo " $got " | grep -q " $name=FAIL " || fail "bad client: $name is not FAIL: $got"; done
echo "check: a bad client: retry, last-event-id, id-persists, partial and end FAIL"
echo "check: ok"
