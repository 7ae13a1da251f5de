#!/usr/bin/env bash
# The viewer page draws the workbench's timeline live: a script serves, connects a client, emits,
# resets the stream and lets the client reconnect while headless Chromium shows the viewer. The
# page's timeline (fed by GET /timeline, an event stream of the server's own, whose history also
# gives a late page the start) shows the drop and a second segment on the client's lane with the
# Last-Event-ID it resumed from. How long after the drop's entry reached the page the second segment
# did is printed (a figure, not a pass mark: the machine may be busy). The viewer's screenshot is
# checked for size, and becomes docs/viewer.png (the README shows it) with DRIP_UPDATE_SCREENSHOTS=1.
#   Tests/e2e/viewer-timeline.sh PATH/TO/drip
set -euo pipefail
drip="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "viewer-timeline: FAILED: $*"; for log in "$work"/*.log; do echo "--- $log"; cat "$log"; done; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cat > "$work/lesson.drip" <<'DRIP'
serve 127.0.0.1:${PORT}
stream feed retry=300ms history=100 heartbeat=0
connect reader feed
expect reader opened
emit feed id=auto data=before
expect reader data=before
sleep 3s
drop feed mode=reset
expect reader reconnected last-event-id=1 within 10s
emit feed id=auto data=after
expect reader data=after
sleep 60s
DRIP
"$drip" run "$work/lesson.drip" --var PORT="$port" --verbose > "$work/drip.log" 2>&1 &
for _ in $(seq 200); do grep -q "serving on" "$work/drip.log" && break; sleep 0.05; done
grep -q "serving on" "$work/drip.log" || fail "drip did not start serving"

expression='(() => {
  const lane = (name) => document.querySelector(`#timeline g.lane[data-lane="${name}"]`);
  const reader = lane("reader");
  const segments = reader ? reader.querySelectorAll(".segment").length : 0;
  const resumes = reader ? [...reader.querySelectorAll(".resume")].map((t) => t.textContent) : [];
  const drops = document.querySelectorAll("#timeline .drop").length;
  const ready = segments >= 2 && drops >= 1 && resumes.includes("Last-Event-ID: 1");
  if (ready && window.readyAt === undefined) window.readyAt = performance.now();
  const dropArrived = window.dropArrivedAt;
  return JSON.stringify({ready, segments, drops, resumes,
    lanes: [...document.querySelectorAll("#timeline g.lane")].map((g) => g.dataset.lane),
    drawnAfterDropMs: dropArrived === undefined || window.readyAt === undefined ? null : Math.round(window.readyAt - dropArrived)});
})()'
python3 "$root/Tests/SSEServerTests/Browser/cdp.py" "http://127.0.0.1:$port/" "$expression" --until '"ready":true' --timeout 40 \
    --fail-on-errors --screenshot "$work/viewer.png" --width 1280 > "$work/browser.out" 2> "$work/chromium.log" \
    || fail "the viewer did not draw the reconnection (exit $?): $(cat "$work/browser.out")"
python3 - "$work/browser.out" "$work/viewer.png" <<'PY' || fail "see above"
import json, struct, sys
seen = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert seen["lanes"][0] == "session" and "reader" in seen["lanes"], seen
assert any(lane.startswith("feed #") for lane in seen["lanes"]), seen
png = open(sys.argv[2], "rb").read()
width, height = struct.unpack(">II", png[16:24])
assert png[:8] == b"\x89PNG\r\n\x1a\n" and width == 1280 and height >= 300 and len(png) > 10_000, (width, height, len(png))
after = seen["drawnAfterDropMs"]
print(f"viewer-timeline: ok (reader's second segment and the drop drawn live; {'drawn ' + str(after) + ' ms after the drop reached the page' if after is not None else 'the page loaded after the drop: drawn from the timeline history'})")
PY
[ "${DRIP_UPDATE_SCREENSHOTS:-}" != 1 ] || cp "$work/viewer.png" "$root/docs/viewer.png"
