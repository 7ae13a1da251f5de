#!/usr/bin/env bash
# drip connect as a user runs it, against drip serve: text and JSON output, its receive buffer, Ctrl-C
# ends with status 0, reconnection with Last-Event-ID after the server restarts, and one clear line for a refused connection.
#   Tests/e2e/connect-to-serve.sh PATH/TO/drip
set -euo pipefail
drip="$1"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "connect-to-serve: FAILED: $*"; for f in "$work"/*.log; do echo "--- $f"; cat "$f"; done; exit 1; }
wait_for() { for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done; fail "no '$2' in $1"; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
"$drip" serve --port "$port" --heartbeat 0 --retry 200ms > "$work/serve.log" 2>&1 &
server=$!
wait_for "$work/serve.log" 'listening on'

"$drip" connect "$url/streams/news" --comments > "$work/text.log" 2>&1 &
text=$!
"$drip" connect "$url/streams/news" --json > "$work/json.log" 2>&1 &
json=$!
wait_for "$work/serve.log" 'client 2 connected'
curl -s -d $'line one\nline two' "$url/streams/news?event=greeting&id=auto" > /dev/null
wait_for "$work/json.log" '"data":"line one'

# A server on this machine: each client's socket has an 8 MiB receive buffer when the system grants
# a socket 4 MiB (net.core.rmem_max; Linux reports twice what it grants), and autotuning's otherwise.
# (Established connections to the server only: curl's, just closed, may linger in FIN-WAIT.)
buffers=$(ss -tmn state established "dst 127.0.0.1:$port" | grep -o 'rb[0-9]*' | sort | uniq -c | awk '{print $1, $2}')
if [ "$(cat /proc/sys/net/core/rmem_max)" -ge 4194304 ]; then
    [ "$buffers" = "2 rb8388608" ] || fail "the two clients' receive buffers: '$buffers', not 2 of rb8388608"
else
    case "$buffers" in *rb8388608*) fail "a receive buffer was fixed without the system granting it: $buffers" ;; esac
fi

# The server goes away and comes back: both clients reconnect with Last-Event-ID: 1.
kill -INT "$server"; wait "$server" || true
"$drip" serve --port "$port" --heartbeat 0 > "$work/serve2.log" 2>&1 &
server=$!
wait_for "$work/serve2.log" 'Last-Event-ID: 1'
wait_for "$work/json.log" '"lastEventId":"1"}'
kill -INT "$text" "$json"
wait "$text" || fail "drip connect exited $? after SIGINT"
wait "$json" || fail "drip connect --json exited $? after SIGINT"

grep -q '^greeting id=1:$' "$work/text.log" || fail "text output lacks the event header"
grep -q '^  line two$' "$work/text.log" || fail "text output lacks the indented second data line"
grep -q '^reconnecting in 200 ms: ' "$work/text.log" || fail "text output lacks the reconnection line"
grep -q '^connecting GET .* (Last-Event-ID: 1)$' "$work/text.log" || fail "text output lacks the reconnect with Last-Event-ID"
grep -qx 'closed: closed by the user' "$work/text.log" || fail "text output lacks the close line"
grep -qx '{"type":"greeting","data":"line one\\nline two","lastEventId":"1"}' "$work/json.log" || fail "JSON event line differs"
grep -qx '{"state":"closed","reason":"closed by the user"}' "$work/json.log" || fail "JSON close line differs"

# Output that goes away: a reader that leaves the pipe ends drip connect quietly (status 0, with
# SIGPIPE ignored by the process); a full disk is one line and status 1.
(for _ in $(seq 40); do sleep 0.1; curl -s -d tick "$url/streams/pipe" > /dev/null; done) &
timeout 10 "$drip" connect "$url/streams/pipe" | head -3 > /dev/null
status="${PIPESTATUS[0]}"
[ "$status" = 0 ] || fail "drip connect | head -3 exited $status, not 0"
if timeout 10 "$drip" connect "$url/streams/pipe" > /dev/full 2> "$work/full.log"; then fail "writing to /dev/full exited 0"; else status=$?; fi
[ "$status" = 1 ] || fail "writing to /dev/full exited $status, not 1"
grep -qx 'drip connect: cannot write the output: write failed: No space left on device' "$work/full.log" || fail "/dev/full said: $(cat "$work/full.log")"

if "$drip" connect "http://127.0.0.1:1/nothing" > "$work/refused.log" 2>&1; then fail "a refused connection exited 0"; fi
[ "$(tail -1 "$work/refused.log")" = "failed: cannot connect to 127.0.0.1:1: connection refused" ] || fail "refused said: $(cat "$work/refused.log")"
# A server that refuses: its status line and the start of its body are shown, the headers with -i (15, friction).
tport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$drip" serve --port "$tport" --token S3cret > "$work/token-serve.log" 2>&1 &
wait_for "$work/token-serve.log" 'listening on'
if "$drip" connect -i --no-reconnect "http://127.0.0.1:$tport/streams/x" > "$work/401.log" 2>&1; then fail "a 401 exited 0"; fi
grep -qx 'the server answered 401 Unauthorized' "$work/401.log" || fail "no status line for the 401"
grep -qx '  WWW-Authenticate: Bearer' "$work/401.log" || fail "-i did not show the headers"
grep -qx '  body: 401 Unauthorized: send Authorization: Bearer TOKEN or ?token=TOKEN' "$work/401.log" || fail "the body was not shown"
"$drip" connect --no-reconnect "http://127.0.0.1:$tport/streams/x" > "$work/401-plain.log" 2>&1 || true
grep -q 'WWW-Authenticate' "$work/401-plain.log" && fail "headers shown without -i"
echo "connect-to-serve: ok"
