#!/usr/bin/env bash
# drip serve --script: a mock server that plays a script to its first subscriber (here curl -N), which
# arrives after the script's first sleep would have ended; --max-connections reaches the server.
#   Tests/e2e/serve-script.sh PATH/TO/drip
set -euo pipefail
drip="$1"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "serve-script: FAILED: $*"; echo "--- server"; cat "$work/serve.log"; echo "--- curl"; cat "$work/stream.txt"; exit 1; }

printf 'stream clock retry=1s\nsleep 300ms\nemit clock event=tick id=auto data=one\nsleep 200ms\nemit clock event=tick id=auto data=two\n' > "$work/mock.drip"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$drip" serve --port "$port" --heartbeat 0 --max-connections 1 --script "$work/mock.drip" > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q 'waiting for the first subscriber' "$work/serve.log" && break; sleep 0.05; done
grep -q 'waiting for the first subscriber before playing .*mock.drip:2' "$work/serve.log" || fail "no 'waiting' line"
sleep 0.8   # longer than the script's first sleep: a script played at start would have emitted 'one' already
curl -sN "http://127.0.0.1:$port/streams/clock" > "$work/stream.txt" &
for _ in $(seq 100); do grep -q 'data: two' "$work/stream.txt" 2>/dev/null && break; sleep 0.05; done
expected=$'retry: 1000\n\nid: 1\nevent: tick\ndata: one\n\nid: 2\nevent: tick\ndata: two'
[ "$(cat "$work/stream.txt")" = "$expected" ] || fail "curl saw: $(cat -A "$work/stream.txt")"
grep -q 'script .*mock.drip played; still serving' "$work/serve.log" || fail "no 'played' line"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/streams/clock")
[ "$status" = 503 ] || fail "a second connection past --max-connections 1 got $status, not 503"
kill -INT "$server"
wait "$server" || fail "drip serve --script exited $? after SIGINT"
echo "serve-script: ok"
