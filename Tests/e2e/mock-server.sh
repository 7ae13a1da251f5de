#!/usr/bin/env bash
# drip serve --script as a mock server, against real clients: curl and Python's httpx + httpx-sse POST
# to examples/llm-stream.drip and read its deltas and [DONE], then get its 429 with Retry-After;
# headless Chromium's EventSource on the routed path /events of examples/mock-resume.drip is dropped
# by the scenario, reconnects with Last-Event-ID: 3 by itself and gets the resume branch; --once exits
# after the first connection's block; a block with a client command in it is refused when read.
#   Tests/e2e/mock-server.sh PATH/TO/drip
set -euo pipefail
drip="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "mock-server: FAILED: $*"; for log in "$work"/*.log; do echo "--- $log"; cat "$log"; done; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Starts `drip serve --script FILE` on a free port and waits until it listens; sets $port and $server.
start_mock() {
    port=$(free_port)
    "$drip" serve --port "$port" --script "$@" > "$work/serve.log" 2>&1 &
    server=$!
    for _ in $(seq 200); do grep -q ' played' "$work/serve.log" && return 0; sleep 0.05; done
    fail "drip serve --script $* did not start"
}

# Python's httpx + httpx-sse, from PyPI, in a virtual environment of their own kept between runs.
source "$root/Tests/e2e/lib/peers-venv.sh"

# --- an LLM-style POST stream
start_mock "$root/examples/llm-stream.drip"
grep -q "route: POST http://127.0.0.1:$port/v1/chat/completions → stream chat" "$work/serve.log" || fail "the route is not printed"
"$peers_python" - "http://127.0.0.1:$port/v1/chat/completions" > "$work/httpx.log" 2>&1 <<'PY' || fail "the httpx-sse client failed"
import json, sys, httpx
from httpx_sse import connect_sse

url = sys.argv[1]
with httpx.Client(timeout=10) as client:
    with connect_sse(client, "POST", url, json={"model": "mock-7", "stream": True, "messages": []}) as source:
        assert source.response.status_code == 200, source.response.status_code
        data = [event.data for event in source.iter_sse()]
    assert data[-1] == "[DONE]", data
    chunks = [json.loads(text) for text in data[:-1]]
    assert chunks[0]["model"] == "mock-7", chunks[0]
    text = "".join(chunk["choices"][0]["delta"]["content"] for chunk in chunks)
    assert text == "Hello!", text
# A fresh connection: the stream's own was closed by the scenario's drop right after its last chunk,
# and a pooled connection the server has just closed would race the next request.
with httpx.Client(timeout=10) as client:
    refused = client.post(url, json={"model": "mock-7", "messages": []})
    assert refused.status_code == 429, refused.status_code
    assert refused.headers["retry-after"] == "2", refused.headers
    assert refused.headers["content-type"].startswith("application/json"), refused.headers
    assert refused.json()["error"]["type"] == "rate_limit", refused.text
print("httpx-sse: Hello! then [DONE], then 429 with Retry-After: 2")
PY
# curl, the third connection: refused like the second.
status=$(curl -s -o "$work/refused.json" -D "$work/refused.head" -w '%{http_code}' -X POST -d '{}' "http://127.0.0.1:$port/v1/chat/completions")
[ "$status" = 429 ] || fail "curl's POST got $status, not 429"
grep -qi '^retry-after: 2' "$work/refused.head" || fail "no Retry-After in $(cat "$work/refused.head")"
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/chat/completions")
[ "$status" = 405 ] || fail "GET on a POST route got $status, not 405"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/other")
[ "$status" = 404 ] || fail "POST /other got $status, not 404"
kill -INT "$server"
wait "$server" || fail "drip serve --script exited $? after SIGINT"
echo "mock-server: $(tail -1 "$work/httpx.log"); curl 429, 405, 404"

# --- headless Chromium: dropped by the scenario, resumed from Last-Event-ID
start_mock "$root/examples/mock-resume.drip"
python3 "$root/Tests/SSEServerTests/Browser/collector.py" > "$work/collector.log" 2>&1 &
for _ in $(seq 100); do [ -s "$work/collector.log" ] && break; sleep 0.05; done
page_port=$(head -1 "$work/collector.log")
python3 "$root/Tests/SSEServerTests/Browser/cdp.py" "http://127.0.0.1:$page_port/page?stream=http://127.0.0.1:$port/events" \
    "JSON.stringify({seen, states})" --until '"five"' --timeout 30 > "$work/browser.log" 2> "$work/chromium.log" \
    || fail "Chromium did not get to event five"
python3 - "$work/browser.log" <<'PY' || fail "Chromium saw the wrong events: $(cat "$work/browser.log")"
import json, sys
result = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
seen = [(event["data"], event["lastEventId"]) for event in result["seen"]]
assert seen == [("one", "1"), ("two", "2"), ("three", "3"), ("four", "4"), ("five", "5")], seen
assert result["states"][:3] == ["open", "connecting", "open"], result["states"]
PY
kill -INT "$server"
wait "$server" || fail "drip serve --script exited $? after SIGINT"
echo "mock-server: Chromium's EventSource got one two three, was dropped, resumed after 3 with four five"

# --- --once: the first connection's block ends, drip exits 0
printf 'stream s heartbeat=0\non-connect s\n  emit s data=hello\n  drop s\nend\n' > "$work/once.drip"
start_mock "$work/once.drip" --once
[ "$(curl -sN "http://127.0.0.1:$port/streams/s")" = "data: hello" ] || fail "--once did not play the block"
for _ in $(seq 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.05; done
kill -0 "$server" 2>/dev/null && fail "--once still running after the block ended"
wait "$server" || fail "--once exited $?, not 0"

# --- a block is checked when read
printf 'serve\nstream s\non-connect s\n  emit s data=a\n  connect c /streams/s\nend\n' > "$work/bad.drip"
set +e; "$drip" run "$work/bad.drip" > "$work/bad.log" 2>&1; status=$?; set -e
[ "$status" = 2 ] || fail "a client command in a block exited $status, not 2"
grep -q "bad.drip:5:3: connect cannot be in an on-connect block" "$work/bad.log" || fail "no file:line:column: $(cat "$work/bad.log")"
printf 'stream s\non-connect s\n  emit s data=a\n' > "$work/open.drip"
set +e; "$drip" serve --port 0 --script "$work/open.drip" > "$work/open.log" 2>&1; status=$?; set -e
[ "$status" = 2 ] || fail "a block without end exited $status, not 2"
grep -q "open.drip:2: the on-connect block for s has no end" "$work/open.log" || fail "the missing end is not named: $(cat "$work/open.log")"
printf 'serve\n%s' "$(cat "$work/open.drip")" > "$work/open.drip"
set +e; "$drip" run "$work/open.drip" > "$work/open.log" 2>&1; status=$?; set -e
[ "$status" = 2 ] || fail "drip run of a block without end exited $status, not 2"
grep -q "open.drip:3:1: the on-connect block for s has no end" "$work/open.log" || fail "drip run does not name the block: $(cat "$work/open.log")"
echo "mock-server: ok"
