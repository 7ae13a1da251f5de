#!/usr/bin/env bash
# drip load against drip serve, small: every subscriber connects and receives every published event,
# in order, none lost or duplicated; the JSON report says so.
#   Tests/e2e/load-against-serve.sh PATH/TO/drip
set -euo pipefail
drip="$1"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "load-against-serve: FAILED: $*"; cat "$work/load.json" 2>/dev/null; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$drip" serve --port "$port" --heartbeat 0 > "$work/serve.log" 2>&1 &
for _ in $(seq 100); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.05; done
url="http://127.0.0.1:$port/streams/load"
"$drip" load "$url" --clients 50 --publish "$url" --events 200 --pipeline 8 --json --settle 10s > "$work/load.json" || fail "drip load exited $?"
python3 - "$work/load.json" <<'PY' || fail "the report is not what was expected"
import json, sys
report = json.load(open(sys.argv[1]))
assert report["subscribers"] == 50, report
assert report["published"] == 200, report
assert report["delivered"] == 50 * 200, report
assert report["lost"] == 0 and report["duplicated"] == 0 and report["outOfOrder"] == 0, report
assert report["latencyMs"]["p99"] > 0, report
PY
# A second run (as another process or machine would make), then both merged by their histograms.
"$drip" load run "$url" --clients 30 --publish "$url" --events 200 --json --settle 10s > "$work/load2.json" || fail "drip load run exited $?"
"$drip" load merge --json "$work/load.json" "$work/load2.json" > "$work/merged.json" || fail "drip load merge exited $?"
python3 - "$work/load.json" "$work/load2.json" "$work/merged.json" <<'PY' || fail "the merged report is not what was expected: $(cat "$work/merged.json")"
import json, sys
first, second, merged = (json.load(open(path)) for path in sys.argv[1:])
assert merged["processes"] == 2 and merged["subscribers"] == 80, merged
assert merged["delivered"] == 80 * 200 and merged["lost"] == 0, merged
low, high = sorted([first["latencyMs"]["p99"], second["latencyMs"]["p99"]])
# Percentiles of the merged histogram lie between the two runs' (within the histogram's 0.1% and rounding).
assert low * 0.99 - 0.01 <= merged["latencyMs"]["p99"] <= high * 1.01 + 0.01, (low, high, merged["latencyMs"])
assert sum(count for _, count in merged["latencyHistogram"]["buckets"]) == 80 * 200, merged["latencyHistogram"]
PY
if "$drip" load merge "$work/missing.json" 2> "$work/merge-error.txt"; then fail "merging a missing report exited 0"; else status=$?; fi
[ "$status" = 2 ] && grep -q "missing.json" "$work/merge-error.txt" || fail "a missing report: exit $status, $(cat "$work/merge-error.txt")"
echo "load-against-serve: ok"
