#!/usr/bin/env bash
# drip run --speed: one clock for the script's sleeps and deadlines and the server's and client's own
# timers. A script of about thirty seconds that uses every timer (Tests/e2e/scripts/thirty-seconds.drip)
# gives the same result, expectation by expectation, at speed 1 and at speed 100, where it takes a
# fraction of the time.
#   Tests/e2e/virtual-clock.sh PATH/TO/drip
set -euo pipefail
drip="$1"
script="$(cd "$(dirname "$0")" && pwd)/scripts/thirty-seconds.drip"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "virtual-clock: FAILED: $*"; exit 1; }
seconds() { python3 -c 'import time; print(time.monotonic())'; }

started=$(seconds)
"$drip" run --tap --speed 100 "$script" > "$work/fast.tap" || { cat "$work/fast.tap"; fail "speed 100 exited $?"; }
fast=$(python3 -c "print(round($(seconds) - $started, 2))")
started=$(seconds)
"$drip" run --tap "$script" > "$work/slow.tap" || { cat "$work/slow.tap"; fail "speed 1 exited $?"; }
slow=$(python3 -c "print(round($(seconds) - $started, 2))")
diff "$work/slow.tap" "$work/fast.tap" > /dev/null || fail "speed 100 differs from speed 1: $(diff "$work/slow.tap" "$work/fast.tap")"
grep -q '^1\.\.19$' "$work/fast.tap" || fail "expected 19 expectations: $(head -2 "$work/fast.tap")"
! grep -q '^not ok' "$work/fast.tap" || fail "$(grep '^not ok' "$work/fast.tap")"
# Compression, not a benchmark: a run that took even a tenth of the script's own time would mean
# some timer ignored the clock.
python3 -c "import sys; sys.exit(0 if $slow >= 25 and $fast * 10 < $slow else 1)" || fail "speed 1 took $slow s, speed 100 $fast s"
echo "virtual-clock: ok (19 expectations; speed 1: $slow s, speed 100: $fast s)"
