#!/usr/bin/env bash
# Random input as a script (drip run) and as REPL input (drip < FILE), seeded and bounded: pure random
# bytes, random lines of command words, and the examples with bytes flipped, lines cut or swapped.
# Every run must end (no hang) with status 0, 1 or 2 (no crash, no signal), and a run that reports a
# failure says so in a line: ERROR file:line:column for drip run, error: … for the REPL.
#   Tests/e2e/script-fuzz.sh PATH/TO/drip [SECONDS (default 20)]
set -euo pipefail
drip="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
seconds="${2:-${SCRIPT_FUZZ_SECONDS:-20}}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 - "$drip" "$root/examples" "$work" "$seconds" <<'PY'
import glob, os, random, re, subprocess, sys, time

drip, examples, work, budget = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
seed = int(os.environ.get("SCRIPT_FUZZ_SEED", "20261122"))
rng = random.Random(seed)
words = ("serve stop stream connect close emit comment drop stall delay chunk corrupt reject post cut clients streams "
         "status history log sleep expect expect-not wait help quit").split()
values = ["news", "c1", "c2", "data=x", "id=auto", "event=tick", "retry=10ms", "within 50ms", "mode=reset", "3", "off",
          "bare-cr", "503", "204", "opened", "closed", "failed", "data~x", "data.n=1", "count=2", "'quoted", '"a b"',
          "\\n", "#", "=", "10ms", "0", "-1", "99999999999999999999", "http://127.0.0.1:1/x", "/streams/x", "@",
          "history=0", "heartbeat=5ms", "idle-timeout=5ms", "level=quiet", "raw=on", "\u00e9", "\u2028", "\x1b[31m", "\x00"]
sources = [open(path, "rb").read() for path in sorted(glob.glob(os.path.join(examples, "*.drip")))]
too_long = re.compile(rb"\d+\s*[hm]\b|\d{4,}\s*s\b|\d{7,}")

def random_bytes():
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))

def random_words():
    lines = []
    for _ in range(rng.randrange(1, 12)):
        line = [rng.choice(words + values)] + [rng.choice(values + words) for _ in range(rng.randrange(0, 5))]
        lines.append(" ".join(line))
    return "\n".join(lines).encode("utf-8", "surrogatepass")

def mutated_example():
    lines = bytearray(rng.choice(sources)).split(b"\n")
    for _ in range(rng.randrange(1, 4)):
        kind = rng.randrange(3)
        index = rng.randrange(len(lines))
        if kind == 0 and lines[index]:
            line = bytearray(lines[index]); line[rng.randrange(len(line))] = rng.randrange(256); lines[index] = bytes(line)
        elif kind == 1:
            del lines[index:index + rng.randrange(1, 4)]
        else:
            other = rng.randrange(len(lines)); lines[index], lines[other] = lines[other], lines[index]
        if not lines:
            lines = [b""]
    return b"\n".join(lines)

def check(kind, data, command, allowed, marker):
    path = os.path.join(work, "input.drip")
    with open(path, "wb") as file:
        file.write(data)
    argv = [part.replace("INPUT", path) for part in command]
    started = time.monotonic()
    try:
        with open(path, "rb") as stdin:
            result = subprocess.run(argv, stdin=stdin if "<" in kind else subprocess.DEVNULL, capture_output=True, cwd=work, timeout=60)
    except subprocess.TimeoutExpired:
        keep(data, kind, "did not end within 60 s")
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    if result.returncode not in allowed or "Fatal error" in output or "crashed" in output:
        keep(data, kind, f"exited {result.returncode}: {output[-800:]}")
    failed = result.returncode != 0
    if failed and not re.search(marker, output, re.M):
        keep(data, kind, f"exited {result.returncode} without a line saying why: {output[-800:]}")
    return time.monotonic() - started, result.returncode

def keep(data, kind, message):
    saved = f"/tmp/drip-fuzz-{seed}-{int(time.time())}.drip"
    with open(saved, "wb") as file:
        file.write(data)
    print(f"script-fuzz: FAILED ({kind}, seed {seed}): {message}\n  input kept in {saved}")
    sys.exit(1)

deadline = time.monotonic() + budget
runs, statuses = 0, {}
while time.monotonic() < deadline:
    generator = rng.choice([random_bytes, random_words, mutated_example])
    data = generator()
    if too_long.search(data):
        continue
    _, status = check(f"drip run, {generator.__name__}", data, [drip, "run", "--speed", "100", "INPUT"], {0, 1, 2},
                      r"^(ERROR \S+:\d+:\d+: |FAIL \S+:\d+: )")
    statuses[status] = statuses.get(status, 0) + 1
    if generator is not mutated_example:
        _, status = check(f"drip < input, {generator.__name__}", data, [drip], {0, 1}, r"^(error: |✗ )")
    runs += 1
print(f"script-fuzz: ok ({runs} inputs in {budget:.0f} s, seed {seed}; drip run exit statuses {dict(sorted(statuses.items()))})")
PY
