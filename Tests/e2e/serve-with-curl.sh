#!/usr/bin/env bash
# drip serve as a user runs it: curl -N shows the stream, curl -d publishes to it, a port in use is
# one line and status 1, and SIGINT ends every stream cleanly with status 0.
#   Tests/e2e/serve-with-curl.sh PATH/TO/drip
set -euo pipefail
drip="$1"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "serve-with-curl: FAILED: $*"; echo "--- server log"; cat "$work/serve.log" || true; exit 1; }

"$drip" serve --port 0 --heartbeat 0 --retry 1500ms > "$work/serve.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.05; done
url="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)"
[ -n "$url" ] || fail "drip serve printed no URL"

curl -sN "$url/streams/news" > "$work/stream.txt" &
curl_pid=$!
for _ in $(seq 100); do grep -q '"clients":\[{' <(curl -s "$url/streams") && break; sleep 0.05; done
reply="$(curl -s -d 'hello from curl' "$url/streams/news?event=greeting&id=auto")"
[ "$reply" = '{"id":"1","clients":1}' ] || fail "publish answered $reply"
curl -s -H 'Content-Type: application/json' -d '{"event":"tick","data":{"n":2},"id":"7"}' "$url/streams/news" > /dev/null
for _ in $(seq 100); do grep -q 'data: {"n":2}' "$work/stream.txt" && break; sleep 0.05; done
expected=$'retry: 1500\n\nid: 1\nevent: greeting\ndata: hello from curl\n\nid: 7\nevent: tick\ndata: {"n":2}'
[ "$(cat "$work/stream.txt")" = "$expected" ] || fail "curl -N saw: $(cat -A "$work/stream.txt")"

port="${url##*:}"
if "$drip" serve --port "$port" > "$work/busy.log" 2>&1; then fail "a second server on port $port did not fail"; else status=$?; fi
[ "$status" = 1 ] || fail "port in use exited $status, not 1"
[ "$(cat "$work/busy.log")" = "drip serve: cannot listen on 127.0.0.1:$port: the address is already in use" ] || fail "port in use said: $(cat "$work/busy.log")"

kill -INT "$server"
wait "$server" || fail "drip serve exited $? after SIGINT"
wait "$curl_pid" || true
grep -q 'client 1 left news: the server stopped' "$work/serve.log" || fail "the log does not say the client was closed"
grep -q 'published greeting to news id=1 → 1 client' "$work/serve.log" || fail "the log does not show the publish"
echo "serve-with-curl: ok"
