#!/usr/bin/env bash
# The library products as another package uses them: examples/swift (which depends on drip by path)
# is built, and its watcher prints the events a `drip serve` it is pointed at publishes.
#   Tests/e2e/swift-example.sh PATH/TO/drip
set -euo pipefail
drip="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "swift-example: FAILED: $*"; echo "--- watch"; cat "$work/watch.txt" || true; exit 1; }

# A scratch folder of its own (ignored by git as .build-*): the example resolves drip's
# dependencies as any package depending on drip would.
scratch="$root/.build-example"
# SwiftPM can keep a scratch folder's build plan when source files are added to drip (a path
# dependency): a build then compiles without the new files and fails, and a second build may fail the
# same way (it did with two files added). So a failed build is tried once more with the plan and the
# build database removed, which makes SwiftPM plan anew, before it counts (a fresh clone builds the
# first time).
build_example() { swift build --package-path "$root/examples/swift" --scratch-path "$scratch" > "$work/build.log" 2>&1; }
build_example || { rm -f "$scratch"/*.yaml "$scratch/build.db" && build_example; } ||
    { cat "$work/build.log"; fail "the example did not build"; }
watch="$(swift build --package-path "$root/examples/swift" --scratch-path "$scratch" --show-bin-path)/Watch"

"$drip" serve --port 0 --heartbeat 0 > "$work/serve.log" 2>&1 &
for _ in $(seq 100); do grep -q 'listening on' "$work/serve.log" && break; sleep 0.05; done
url="$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | head -1)"
[ -n "$url" ] || fail "drip serve printed no URL"

"$watch" "$url/streams/news" 3 > "$work/watch.txt" 2>&1 &
watcher=$!
for _ in $(seq 200); do grep -q '"clients":\[{' <(curl -s "$url/streams") && break; sleep 0.05; done
curl -s -d 'one' "$url/streams/news?id=auto" > /dev/null
curl -s -d 'two' "$url/streams/news?event=tick&id=auto" > /dev/null
curl -s -H 'Content-Type: application/json' -d '{"data":{"n":3},"id":"x"}' "$url/streams/news" > /dev/null
for _ in $(seq 200); do kill -0 "$watcher" 2>/dev/null || break; sleep 0.05; done
kill -0 "$watcher" 2>/dev/null && fail "the watcher did not end after 3 events"
wait "$watcher" || fail "the watcher exited with $?"
expected=$'message 1: one\ntick 2: two\nmessage x: {"n":3}'
[ "$(cat "$work/watch.txt")" = "$expected" ] || fail "the watcher printed: $(cat -A "$work/watch.txt")"
echo "swift-example: ok"
