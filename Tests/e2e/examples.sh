#!/usr/bin/env bash
# The tutorial examples as CI runs them: all pass with drip run, the TAP is TAP 13 and the JUnit XML
# parses; each example fails (exit 1, naming file:line) when one of its expectations is altered; a
# script error exits 2 with file:line:column.
#   Tests/e2e/examples.sh PATH/TO/drip
set -euo pipefail
drip="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "examples: FAILED: $*"; exit 1; }

"$drip" run "$root"/examples/*.drip --junit "$work/junit.xml" --tap > "$work/slow.tap" || { cat "$work/slow.tap"; fail "drip run examples/*.drip exited $?"; }
echo "examples: $(grep -c '^ok' "$work/slow.tap") expectations passed in $(ls "$root"/examples/*.drip | wc -l) scripts"
# At --speed 100 (every sleep, deadline and timer a hundred times shorter) each expectation has the
# same result as at speed 1.
"$drip" run "$root"/examples/*.drip --tap --speed 100 > "$work/fast.tap" || { cat "$work/fast.tap"; fail "drip run --speed 100 exited $?"; }
diff "$work/slow.tap" "$work/fast.tap" > /dev/null || fail "speed 100 differs from speed 1: $(diff "$work/slow.tap" "$work/fast.tap")"
python3 - "$work/junit.xml" <<'PY' || fail "the JUnit XML is not valid"
import sys, xml.etree.ElementTree as tree
root = tree.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
cases = root.findall("./testsuite/testcase")
assert cases and all(case.get("name") and case.get("classname") for case in cases), "testcases lack names"
assert int(root.get("failures")) == 0 and int(root.get("errors")) == 0
PY
python3 - "$work/slow.tap" <<'PY' || fail "the TAP output is not TAP 13"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines[0] == "TAP version 13", lines[0]
plan = re.fullmatch(r"1\.\.(\d+)", lines[1]); assert plan, lines[1]
tests = [l for l in lines[2:] if re.match(r"(not )?ok \d+ - ", l)]
assert len(tests) == int(plan.group(1)), (len(tests), plan.group(1))
assert all(re.match(r"ok \d+ - ", l) for l in tests)
PY

for example in "$root"/examples/*.drip; do
    name="$(basename "$example")"
    line="$( (grep -n '^expect [^ ]* .*data' "$example" || true) | head -1 | cut -d: -f1)"
    [ -n "$line" ] || fail "$name has no expectation on data to alter"
    sed "${line}s/data\([=~.]\)/data\1ALTERED/" "$example" > "$work/$name"
    if "$drip" run --bail --speed 100 "$work/$name" > "$work/mutated.log" 2>&1; then fail "$name still passes with line $line altered"; else status=$?; fi
    [ "$status" = 1 ] || fail "$name altered exited $status, not 1"
    grep -q "FAIL $work/$name:$line: " "$work/mutated.log" || fail "$name altered: no FAIL naming line $line: $(cat "$work/mutated.log")"
done

printf 'serve\nemit news evnt=x\n' > "$work/broken.drip"
if "$drip" run "$work/broken.drip" > "$work/broken.log"; then fail "a script error exited 0"; else status=$?; fi
[ "$status" = 2 ] || fail "a script error exited $status, not 2"
grep -qF "ERROR $work/broken.drip:2:11: emit: unknown option 'evnt='; did you mean 'event='?" "$work/broken.log" || fail "script error: $(cat "$work/broken.log")"
echo "examples: ok"
