#!/usr/bin/env bash
# Headless Chromium through drip's proxy: a page loaded through the proxy opens an EventSource on the
# same origin; the proxy resets the stream right after 3 events (drop p1 mode=reset after=3); the
# browser reconnects with Last-Event-ID through the proxy, the upstream (Python, nothing of drip)
# sees the header, and the page ends with events 1 to 6 exactly once. The script that runs the proxy
# asserts the same from the proxy's side.
#   Tests/e2e/proxy-browser.sh PATH/TO/drip
set -euo pipefail
drip="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "proxy-browser: FAILED: $*"; for log in "$work"/*.log; do echo "--- $log"; cat "$log"; done; exit 1; }

python3 "$root/Tests/e2e/lib/sse_upstream.py" "$work/last-event-ids.txt" > "$work/upstream.log" 2>&1 &
for _ in $(seq 100); do [ -s "$work/upstream.log" ] && break; sleep 0.05; done
upstream_port=$(head -1 "$work/upstream.log")
proxy_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat > "$work/proxy.drip" <<'DRIP'
proxy p1 http://127.0.0.1:${UPSTREAM} listen=127.0.0.1:${PORT}
drop p1 mode=reset after=3
expect p1 opened within 60s
expect p1 data=3 within 30s
expect p1 closed within 10s
expect p1 reconnected last-event-id=3 within 10s
expect p1 data=4 within 10s
expect p1 data=6 within 10s
expect-not p1 data=1 within 1s
DRIP
"$drip" run "$work/proxy.drip" --var UPSTREAM="$upstream_port" --var PORT="$proxy_port" --verbose > "$work/drip.log" 2>&1 &
runner=$!
for _ in $(seq 200); do grep -q "proxy p1: http://127.0.0.1:$proxy_port" "$work/drip.log" && break; sleep 0.05; done
grep -q "proxy p1: http://127.0.0.1:$proxy_port" "$work/drip.log" || fail "the proxy did not start"

python3 "$root/Tests/SSEServerTests/Browser/cdp.py" "http://127.0.0.1:$proxy_port/page" "JSON.stringify({seen, states})" \
    --until '"6"' --timeout 30 > "$work/browser.log" 2> "$work/chromium.log" || fail "Chromium did not get to event 6"
python3 - "$work/browser.log" <<'PY' || fail "Chromium saw the wrong events: $(cat "$work/browser.log")"
import json, sys
result = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
seen = [(event["data"], event["lastEventId"]) for event in result["seen"]]
assert seen == [(str(n), str(n)) for n in range(1, 7)], seen
assert result["states"][:3] == ["open", "connecting", "open"], result["states"]
PY
[ "$(cat "$work/last-event-ids.txt")" = $'-\n3' ] || fail "the upstream saw Last-Event-IDs $(tr '\n' ' ' < "$work/last-event-ids.txt"), not '- 3'"
wait "$runner" || fail "the proxy's script failed (exit $?)"
grep -q "7 passed, 0 failed" "$work/drip.log" || fail "the proxy's expectations did not all pass"
echo "proxy-browser: ok (Chromium got 1 to 6 once each; reset after 3, resumed with Last-Event-ID 3 through the proxy)"
