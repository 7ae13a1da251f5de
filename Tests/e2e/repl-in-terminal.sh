#!/usr/bin/env bash
# The REPL in a real pseudo-terminal (tmux): the prompt counts what is live, Tab completes commands and
# options, events that arrive while a line is typed are printed above it and the line stays intact,
# the up arrow recalls a command, Ctrl-C discards the line and
# interrupts a sleep, errors point at the bad word, Ctrl-D closes everything, history is kept.
#   Tests/e2e/repl-in-terminal.sh PATH/TO/drip
set -euo pipefail
drip="$1"
name=repl-in-terminal
source "$(dirname "$0")/lib/terminal.sh"

tmux new-session -d -s "$session" -x 150 -y 40 "env HOME='$work' TERM=xterm LC_ALL=C.UTF-8 '$drip'; echo EXITED \$? > '$work/status'; sleep 30"
wait_for "drip>"
tmux send-keys -t "$session" 'serve' Enter
wait_for "drip [server]>"
tmux send-keys -t "$session" 'connect c1 news' Enter
wait_for "c1: open (200)"
wait_for "drip [server, 1 client]>"
url="$(screen | grep -o 'http://127.0.0.1:[0-9]*' | head -1)"

tmux send-keys -t "$session" 'emi' Tab 'news da' Tab 'hal'
sleep 0.3
curl -s -d 'arrived while typing' "$url/streams/news?event=note" > /dev/null
wait_for "c1: note: arrived while typing"
tmux send-keys -t "$session" 'f'
wait_for "drip [server, 1 client]> emit news data=half"
screen | grep -q 'data=haldrip' && fail "the edited line was garbled"
tmux send-keys -t "$session" Enter
wait_for "c1: message: half"

# The up arrow recalls the previous command.
tmux send-keys -t "$session" Up
wait_for "drip [server, 1 client]> emit news data=half"
tmux send-keys -t "$session" C-u
tmux send-keys -t "$session" 'this line is thrown away'
sleep 0.2
tmux send-keys -t "$session" C-c
wait_for "this line is thrown away^C"
tmux send-keys -t "$session" 'sleep 30s' Enter
sleep 0.5
tmux send-keys -t "$session" C-c
tmux send-keys -t "$session" 'emti' Enter
wait_for "error: unknown command 'emti'; did you mean 'emit'?"

# An on-connect block: its own prompt while it is read, then it plays to the next connection; a
# character outside ASCII typed in a UTF-8 locale arrives whole.
type_line 'on-connect news'
wait_for "on-connect news …  >"
type_line 'emit news data=héllo'
type_line 'end'
wait_for "on-connect news: 1 line plays to each new connection"
type_line 'connect c2 news'
wait_for "c2: message: héllo"

tmux capture-pane -t "$session" -e -p | grep -q $'\e\\[31m' || fail "the error is not red at a terminal"

tmux send-keys -t "$session" C-d
for _ in $(seq 100); do [ -f "$work/status" ] && break; sleep 0.05; done
[ "$(cat "$work/status" 2>/dev/null)" = "EXITED 0" ] || fail "drip did not exit 0 on Ctrl-D (sleep not interrupted?)"
wait_for "server: stopped"
grep -qF 'data=half' "$work/.drip_history" || fail "the history file lacks the command"
grep -qF 'thrown' "$work/.drip_history" && fail "a discarded line reached the history"
# NO_COLOR turns colour off even at a terminal. In the C locale the block prompt's "…" (which libedit
# cannot decode there) is shown as "?".
tmux kill-session -t "$session"
tmux new-session -d -s "$session" -x 150 -y 40 "env HOME='$work' TERM=xterm NO_COLOR=1 LC_ALL=C '$drip'; sleep 30"
wait_for "drip>"
tmux send-keys -t "$session" 'emti' Enter
wait_for "error: unknown command 'emti'"
tmux capture-pane -t "$session" -e -p | grep -q $'\e\\[31m' && fail "NO_COLOR still coloured the error"
type_line 'on-connect news'
wait_for "on-connect news ?  >"
type_line 'end'
wait_for "on-connect news: 0 lines play to each new connection"
echo "repl-in-terminal: ok"
