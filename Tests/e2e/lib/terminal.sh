# Sourced by the end-to-end tests that drive the REPL in a pseudo-terminal (tmux). Set before
# sourcing: name (the test's name, for its FAILED line) and session (the tmux session); optionally
# scrollback (lines of history the screen includes) and patience (50 ms polls before wait_for gives up,
# default 100). It makes $work, a folder removed at exit, and names the tmux session, killed at exit.
work="$(mktemp -d)"
session="drip-$name-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT
screen() { tmux capture-pane -t "$session" -p ${scrollback:+-S "-$scrollback"}; }
fail() { echo "$name: FAILED: $*"; echo "--- screen"; screen || true; exit 1; }
wait_for() { for _ in $(seq "${patience:-100}"); do screen | grep -qF -- "$1" && return 0; sleep 0.05; done; fail "never showed: $1"; }
# Types `$1` as it is (no key names) and Enter.
type_line() { tmux send-keys -t "$session" -l -- "$1"; tmux send-keys -t "$session" Enter; }
