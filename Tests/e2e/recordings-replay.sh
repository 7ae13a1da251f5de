#!/usr/bin/env bash
# Every recording replays green right after it was made (issue 15.21): each example typed into the
# REPL in a terminal while recording; a recording started midway (its preamble sets the session up,
# a drop and the reconnection after it are recorded); a client the user closed. A recording onto a
# full disk stops at once and says so (15.20).
#   Tests/e2e/recordings-replay.sh PATH/TO/drip
set -euo pipefail
drip="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
root="$(cd "$(dirname "$0")/../.." && pwd)"
name=recordings-replay scrollback=200 patience=400
source "$(dirname "$0")/lib/terminal.sh"
start() {
    tmux new-session -d -s "$session" -x 200 -y 50 "cd '$work' && env HOME='$work' TERM=xterm '$drip'; echo EXITED \$? > '$work/status'; sleep 60"
    wait_for "drip>"
}
finish() {
    rm -f "$work/status"
    tmux send-keys -t "$session" C-d
    for _ in $(seq 200); do [ -f "$work/status" ] && break; sleep 0.05; done
    tmux kill-session -t "$session"
}
replay() {
    "$drip" run "$1" > "$work/run.log" 2>&1 || fail "$1 does not replay green: $(cat "$work/run.log"); the recording: $(cat "$1")"
}

for example in "$root"/examples/*.drip; do
    name="$(basename "$example" .drip)"
    start
    type_line "record $work/$name.drip"
    while IFS= read -r line; do
        case "$line" in ''|'#'*) continue ;; esac
        type_line "$line"
    done < "$example"
    type_line "record stop"
    wait_for "recording saved to $work/$name.drip"
    finish
    replay "$work/$name.drip"
done

# Midway: the session is set up before the recording starts; then a drop, a reconnection, a close.
start
type_line "serve"
type_line "stream news retry=100ms"
type_line "connect my news"
wait_for "my: open (200)"
type_line "emit news id=1 data=before"
wait_for "my: message id=1: before"
type_line "record $work/midway.drip"
type_line "drop news"
wait_for "my: open (200)"
type_line "emit news id=2 data=after"
wait_for "my: message id=2: after"
type_line "close my"
type_line "record stop"
wait_for "recording saved to $work/midway.drip"
finish
grep -qx "serve" "$work/midway.drip" || fail "no preamble: $(cat "$work/midway.drip")"
grep -qx "expect my reconnected last-event-id=1" "$work/midway.drip" || fail "the reconnection is not recorded: $(cat "$work/midway.drip")"
grep -q "expect my closed" "$work/midway.drip" && fail "a client the user closed is expected closed: $(cat "$work/midway.drip")"
replay "$work/midway.drip"

# A full disk: the failure is reported at once and the recording stops.
start
type_line "record /dev/full"
wait_for "record: cannot write /dev/full: No space left on device"
finish
# A disk that fills midway (a 64 KiB tmpfs in a mount namespace of its own): the failure is
# reported at the command that hit it, the recording stops, the file ends with a whole line.
if unshare -m true 2>/dev/null; then
    head -c 100000 /dev/zero | tr '\0' x > "$work/big.txt"
    mkdir -p "$work/small"
    printf 'record %s\nserve\nstream s\nconnect c s\nexpect c opened\nemit s data=@%s\nsleep 300ms\nemit s data=two\nrecord stop\n' \
        "$work/small/r.drip" "$work/big.txt" > "$work/full.drip"
    unshare -m sh -c "mount -t tmpfs -o size=64k tmpfs '$work/small' && '$drip' < '$work/full.drip' > '$work/full.log' 2>&1; tail -c 1 '$work/small/r.drip' | od -An -c > '$work/last-byte'" || true
    grep -q "recording stopped: writing $work/small/r.drip failed: No space left on device" "$work/full.log" || fail "a full disk was not reported: $(cat "$work/full.log")"
    grep -q "recording saved" "$work/full.log" && fail "a recording cut by a full disk said it was saved"
    [ "$(tr -d ' ' < "$work/last-byte")" = '\n' ] || fail "the cut recording does not end with a whole line"
else
    echo "recordings-replay: no mount namespaces here; the full-disk case is left out"
fi
echo "recordings-replay: ok"
