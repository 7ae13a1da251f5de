#!/usr/bin/env bash
# Pictures of a run: `drip run examples/reconnect.drip --report` writes one self-contained HTML file
# that headless Chromium opens from disk; its SVG holds one lane per server connection and one for the
# client, a drop, the reconnection gap labelled with its delay, and the resume's Last-Event-ID: 2.
# Its screenshot is checked for size, and becomes docs/report.png (the README shows it) with
# DRIP_UPDATE_SCREENSHOTS=1. --timeline writes the same entries as JSON lines. Then every example's
# report renders without a script error.
#   Tests/e2e/report.sh PATH/TO/drip
set -euo pipefail
drip="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "report: FAILED: $*"; exit 1; }
cdp="$root/Tests/SSEServerTests/Browser/cdp.py"

(cd "$root" && "$drip" run examples/reconnect.drip --report "$work/reconnect.html" --timeline "$work/reconnect.jsonl" > "$work/run.log") \
    || { cat "$work/run.log"; fail "drip run examples/reconnect.drip --report exited $?"; }
grep -q "<svg" "$work/reconnect.html" || fail "the report has no SVG"
if grep -Eq '(src|href)="(https?:)?//' "$work/reconnect.html"; then fail "the report refers to something outside itself"; fi

expression='JSON.stringify({
  lanes: [...document.querySelectorAll("svg g.lane")].map(g => g.dataset.lane),
  drops: document.querySelectorAll("svg .drop").length,
  gaps: [...document.querySelectorAll("svg .gap text")].map(t => t.textContent),
  resumes: [...document.querySelectorAll("svg .resume")].map(t => t.textContent),
  passed: document.querySelectorAll("tr.pass").length})'
python3 "$cdp" "file://$work/reconnect.html" "$expression" --until 'Last-Event-ID: 2' --timeout 20 --fail-on-errors \
    --screenshot "$work/report.png" --width 1320 > "$work/dom.json" 2> "$work/chromium.log" \
    || { cat "$work/chromium.log"; fail "Chromium did not show the report (exit $?): $(cat "$work/dom.json")"; }
python3 - "$work/dom.json" "$work/reconnect.jsonl" "$work/report.png" <<'PY' || fail "see above"
import json, struct, sys
dom = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
assert dom["lanes"][0] == "session", dom["lanes"]
server = [lane for lane in dom["lanes"] if lane.startswith("feed #")]
assert len(server) == 2, f"one lane per server connection (the first and the resumed one): {dom['lanes']}"
assert "reader" in dom["lanes"], dom["lanes"]
assert dom["drops"] >= 1, "no drop drawn"
assert "wait 100 ms" in dom["gaps"], f"no reconnection gap labelled with its delay: {dom['gaps']}"
assert "Last-Event-ID: 2" in dom["resumes"], dom["resumes"]
assert dom["passed"] == 5, dom
entries = [json.loads(line) for line in open(sys.argv[2])]
kinds = {entry["kind"] for entry in entries}
assert {"command", "opened", "event", "ended", "waiting", "expectation"} <= kinds, kinds
assert any(entry["kind"] == "opened" and entry["lastEventId"] == "2" for entry in entries), "no resume with Last-Event-ID 2 in the JSON lines"
png = open(sys.argv[3], "rb").read()
width, height = struct.unpack(">II", png[16:24])
assert png[:8] == b"\x89PNG\r\n\x1a\n" and width == 1320 and height >= 500 and len(png) > 20_000, (width, height, len(png))
print(f"report: {len(dom['lanes'])} lanes, screenshot {width}x{height}")
PY
[ "${DRIP_UPDATE_SCREENSHOTS:-}" != 1 ] || cp "$work/report.png" "$root/docs/report.png"

(cd "$root" && "$drip" run examples/*.drip --speed 100 --report "$work/examples.html" > "$work/examples.log") \
    || { cat "$work/examples.log"; fail "drip run examples/*.drip --report exited $?"; }
sections=$(grep -c '<section class="script">' "$work/examples.html")
[ "$sections" = "$(ls "$root"/examples/*.drip | wc -l)" ] || fail "the examples' report has $sections sections"
python3 "$cdp" "file://$work/examples.html" 'String(document.querySelectorAll("svg.timeline").length)' --until "$sections" --timeout 20 \
    --fail-on-errors > "$work/examples.dom" 2> "$work/examples-chromium.log" \
    || { cat "$work/examples-chromium.log"; fail "the examples' report did not render cleanly (exit $?): $(cat "$work/examples.dom")"; }
echo "report: ok (reconnect drawn with its drop, gap and resume; $sections examples' timelines render without an error)"
