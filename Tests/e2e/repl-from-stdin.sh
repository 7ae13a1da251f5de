#!/usr/bin/env bash
# drip reading commands from standard input (not a terminal): no prompt, the same language as the
# REPL, errors with line and column, exit status 1 when a command failed, everything closed at the end.
#   Tests/e2e/repl-from-stdin.sh PATH/TO/drip
set -euo pipefail
drip="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "repl-from-stdin: FAILED: $*"; echo "--- output"; cat "$work/out.log"; echo "--- errors"; cat "$work/err.log"; exit 1; }

cat > "$work/session.drip" <<'SCRIPT'
# a session, as a person would type it
serve
stream news retry=200ms
connect c1 news
sleep 300ms
emit news event=tick id=auto data='{"n":1}'
sleep 300ms
clients
quit
SCRIPT
"$drip" < "$work/session.drip" > "$work/out.log" 2> "$work/err.log" || fail "exit status $?"
grep -q '^serving on http://127.0.0.1:' "$work/out.log" || fail "no serving line"
grep -qx 'c1: tick id=1: {"n":1}' "$work/out.log" || fail "the client's event is not printed"
grep -qE '^c1 +open +1 +1 ' "$work/out.log" || fail "clients does not list c1 open with one event"
grep -q '> ' "$work/out.log" && fail "a prompt was printed although stdin is not a terminal"
[ ! -s "$work/err.log" ] || fail "unexpected errors"

printf 'serve\nemit news evnt=x\nstop\n' | "$drip" > "$work/out.log" 2> "$work/err.log" && fail "a failed command exited 0"
grep -qx "error: emit: unknown option 'evnt='; did you mean 'event='? (line 2, column 11)" "$work/err.log" || fail "error line differs"
grep -qx 'server stopped' "$work/out.log" || fail "commands after the error did not run"
echo "repl-from-stdin: ok"
