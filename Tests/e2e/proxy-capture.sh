#!/usr/bin/env bash
# A capture replayed: a session through `proxy p1 capture=FILE` (events 100 and 200 ms apart, a drop,
# a resume with Last-Event-ID: 3) is written as a mock-server script; `drip serve --script FILE`
# gives Python's httpx-sse the same events (type, id, data) on the same path, with the same spacing
# within 20%, and the resume branch to a client sending Last-Event-ID: 3. The same capture through
# `drip proxy --capture` with SIGINT in the middle of a stream is still a script drip runs.
#   Tests/e2e/proxy-capture.sh PATH/TO/drip
set -euo pipefail
drip="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "proxy-capture: FAILED: $*"; for log in "$work"/*.log "$work"/*.drip; do echo "--- $log"; cat "$log"; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
source "$root/Tests/e2e/lib/peers-venv.sh"

cat > "$work/session.drip" <<'DRIP'
serve
stream news retry=200ms heartbeat=0
proxy p1 capture=${CAPTURE}
connect c1 news via=p1
expect c1 opened
emit news event=tick id=auto data=one
sleep 100ms
emit news event=tick id=auto data='two "quoted" # not a comment'
sleep 200ms
emit news event=tick id=auto data='multi\nline'
drop news
expect c1 reconnected last-event-id=3 within 5s
sleep 150ms
emit news event=tick id=auto data=four
expect c1 data=four
DRIP
"$drip" run "$work/session.drip" --var CAPTURE="$work/captured.drip" > "$work/session.log" 2>&1 || fail "the captured session failed"

port=$(free_port)
"$drip" serve --port "$port" --script "$work/captured.drip" > "$work/serve.log" 2>&1 &
for _ in $(seq 200); do grep -q ' played' "$work/serve.log" && break; sleep 0.05; done
grep -q ' played' "$work/serve.log" || fail "drip serve --script did not take the capture"
"$peers_python" - "http://127.0.0.1:$port/streams/news" "$work/captured.drip" > "$work/replay.log" 2>&1 <<'PY' || fail "the replay differs"
import re, sys, time, httpx
from httpx_sse import connect_sse

def read(url, headers, count):
    seen = []
    with httpx.Client(timeout=10) as client:
        with connect_sse(client, "GET", url, headers=headers) as source:
            for event in source.iter_sse():
                if not event.data:
                    continue  # httpx-sse hands over a retry-only block; EventSource dispatches nothing for it
                seen.append((time.monotonic(), event.event, event.id, event.data))
                if len(seen) == count:
                    break
    return seen

fresh = read(sys.argv[1], {}, 3)
assert [s[1:] for s in fresh] == [("tick", "1", "one"), ("tick", "2", 'two "quoted" # not a comment'), ("tick", "3", "multi\nline")], fresh
# The spacing the capture saw (the session's 100 and 200 ms sleeps, as they came through the proxy):
# the sleep lines before the fresh connection's second and third events.
fresh_branch = open(sys.argv[2]).read().split("  else\n", 1)[1]
captured = [int(ms) for ms in re.findall(r"sleep (\d+)ms\n\s*emit", fresh_branch)][-2:]
assert len(captured) == 2 and 80 <= captured[0] and 160 <= captured[1], captured
gaps = [(fresh[1][0] - fresh[0][0]) * 1000, (fresh[2][0] - fresh[1][0]) * 1000]
for gap, expected in zip(gaps, captured):
    assert abs(gap - expected) <= expected * 0.2, f"gap {gap:.0f} ms, not the captured {expected} ms within 20%"
started = time.monotonic()
resumed = read(sys.argv[1], {"Last-Event-ID": "3"}, 1)
assert [s[1:] for s in resumed] == [("tick", "4", "four")], resumed
wait = (resumed[0][0] - started) * 1000
assert wait >= 150 * 0.8, f"the resumed event came after {wait:.0f} ms, not about 150"
print(f"replayed: 3 events {gaps[0]:.0f} and {gaps[1]:.0f} ms apart (captured {captured[0]} and {captured[1]}), and the resume branch")
PY
kill -INT %1 2>/dev/null || true
echo "proxy-capture: $(tail -1 "$work/replay.log")"

# drip proxy --capture, interrupted while a stream is open: the file is a script drip runs.
upstream_port=$(free_port)
printf 'stream s heartbeat=0\nemit s id=1 data=first\n' > "$work/upstream.drip"
"$drip" serve --port "$upstream_port" --heartbeat 0 > "$work/upstream.log" 2>&1 &
proxy_port=$(free_port)
"$drip" proxy "http://127.0.0.1:$upstream_port" --port "$proxy_port" --capture "$work/interrupted.drip" > "$work/proxy.log" 2>&1 &
proxy=$!
for _ in $(seq 200); do grep -q "drip proxy: http" "$work/proxy.log" && break; sleep 0.05; done
curl -sN "http://127.0.0.1:$proxy_port/streams/s" > "$work/curl.log" &
for _ in $(seq 100); do grep -q "#1: ← 200" "$work/proxy.log" && break; sleep 0.05; done
curl -s -d 'hello' "http://127.0.0.1:$upstream_port/streams/s?id=1" > /dev/null
for _ in $(seq 100); do grep -q "#1: message id=1: hello" "$work/proxy.log" && break; sleep 0.05; done
kill -INT "$proxy"
wait "$proxy" || fail "drip proxy exited $? after SIGINT"
grep -q "emit s id=1 data=hello" "$work/interrupted.drip" || fail "the interrupted capture lacks the event"
printf 'serve\n' | cat - "$work/interrupted.drip" > "$work/check.drip"
"$drip" run "$work/check.drip" > "$work/check.log" 2>&1 || fail "the interrupted capture is not a script drip runs"
echo "proxy-capture: ok"
