#!/usr/bin/env bash
# A REPL session recorded through a pseudo-terminal replays with drip run and passes — when it ends
# with Ctrl-D, with Ctrl-C twice on an empty line, and when drip is terminated midway (the
# recording is still a whole, valid script).
#   Tests/e2e/record-and-replay.sh PATH/TO/drip
set -euo pipefail
drip="$1"
name=record-and-replay
source "$(dirname "$0")/lib/terminal.sh"

for ending in ctrl-d ctrl-c sigterm; do
    recording="$work/$ending.drip"
    tmux new-session -d -s "$session" -x 150 -y 40 "env HOME='$work' TERM=xterm '$drip'; echo EXITED \$? > '$work/status'; sleep 30"
    wait_for "drip>"
    type_line "record $recording"
    type_line "serve"
    wait_for "drip [server]>"
    type_line "stream news retry=200ms"
    type_line "connect c1 news"
    wait_for "c1: open (200)"
    type_line "emit news event=tick id=auto data='{\"n\":1}'"
    wait_for 'c1: tick id=1: {"n":1}'
    sleep 0.3
    type_line "emit news data='second' id=auto"
    wait_for "c1: message id=2: second"
    rm -f "$work/status"
    if [ "$ending" = ctrl-d ]; then
        tmux send-keys -t "$session" C-d
    elif [ "$ending" = ctrl-c ]; then
        tmux send-keys -t "$session" C-c
        wait_for "(Ctrl-C again or Ctrl-D leaves drip)"
        tmux send-keys -t "$session" C-c
    else
        pkill -TERM -f "^$drip\$" || fail "no drip process to terminate"
    fi
    for _ in $(seq 100); do [ -f "$work/status" ] && break; sleep 0.05; done
    [ "$(cat "$work/status" 2>/dev/null)" = "EXITED 0" ] || fail "drip did not exit 0 after $ending"
    tmux kill-session -t "$session"
    grep -qx "expect c1 event=tick data='{\"n\":1}' id=1" "$recording" || fail "$ending: the recording lacks the first expectation: $(cat "$recording")"
    grep -qx "expect c1 data=second id=2" "$recording" || fail "$ending: the recording lacks the last expectation: $(cat "$recording")"
    "$drip" run "$recording" > "$work/run.log" || fail "$ending: the recording does not replay: $(cat "$work/run.log")"
    grep -qx "3 passed, 0 failed" "$work/run.log" || fail "$ending: $(cat "$work/run.log")"
    grep -qx "expect c1 opened" "$recording" || fail "$ending: the recording does not wait for the client to open"
done
echo "record-and-replay: ok"
