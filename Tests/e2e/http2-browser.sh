#!/usr/bin/env bash
# The six-connection lesson in headless Chromium, and HTTP/2 read by curl and drip connect.
# examples/connection-limit.drip serves a page opening eight EventSources to its own origin:
# over plain HTTP/1.1 (drip serve) six open and two wait; over HTTPS (drip serve --tls, Chromium
# trusting the certificate by the public key pin drip prints) all eight are streams of one HTTP/2
# connection and open within 3 s. curl --http2 reads a stream as HTTP/2 (%{http_version} is 2) and
# drip connect --http2 reads one; a client that does not trust the certificate is refused.
#   Tests/e2e/http2-browser.sh PATH/TO/drip
set -euo pipefail
drip="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "http2-browser: FAILED: $*"; for log in "$work"/*.log; do echo "--- $log"; cat "$log"; done; exit 1; }
cd "$root"

# Both servers play the example (from the repository's root, where it reads its page).
"$drip" serve --port 0 --script examples/connection-limit.drip > "$work/plain.log" 2>&1 &
"$drip" serve --port 0 --tls --script examples/connection-limit.drip > "$work/tls.log" 2>&1 &
for _ in $(seq 400); do grep -q "played; still serving" "$work/plain.log" && grep -q "played; still serving" "$work/tls.log" && break; sleep 0.05; done
plain=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/plain.log" | head -1)
secure=$(grep -o 'https://127.0.0.1:[0-9]*' "$work/tls.log" | head -1)
pin=$(grep -o 'spki-list=[^ )]*' "$work/tls.log" | head -1 | sed 's/^spki-list=//')
[ -n "$plain" ] && [ -n "$secure" ] && [ -n "$pin" ] || fail "the servers did not start"

# curl over HTTP/2: the stream's events arrive and the version is 2.
( sleep 1; curl -sS -k -X POST "$secure/streams/tab1?id=1" -d 'over h2' > /dev/null ) &
version=$(curl -s --http2 -k -N --max-time 3 -o "$work/curl-stream.txt" -w '%{http_version}' "$secure/streams/tab1" || true)
[ "$version" = 2 ] || fail "curl read HTTP version '$version', not 2"
grep -q "data: over h2" "$work/curl-stream.txt" || fail "curl did not get the event over HTTP/2: $(cat "$work/curl-stream.txt")"
# The pin printed is the certificate's: curl accepts it with --pinnedpubkey and refuses another.
curl -sS -k --pinnedpubkey "sha256//$pin" "$secure/streams" > /dev/null || fail "curl refused the printed pin"
if curl -sS -k --pinnedpubkey "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" "$secure/streams" > /dev/null 2>&1; then
    fail "curl accepted a wrong pin"
fi
# A client that does not trust the certificate is refused.
if curl -sS "$secure/streams" > /dev/null 2> "$work/untrusted.log"; then fail "curl trusted a self-signed certificate"; fi

# drip connect --http2 reads a stream; without --insecure (no trust) it fails naming TLS.
( sleep 1; curl -sS -k -X POST "$secure/streams/tab2?id=7&event=note" -d 'for drip' > /dev/null ) &
timeout 4 "$drip" connect --http2 --insecure --json "$secure/streams/tab2" > "$work/connect.txt" 2> "$work/connect-err.log" || true
grep -q '"data":"for drip"' "$work/connect.txt" || fail "drip connect --http2 did not read the event: $(cat "$work/connect.txt")"
timeout 4 "$drip" connect --http2 --max-retries 0 "$secure/streams/tab2" > "$work/refused.log" 2>&1 || true
grep -q "TLS failed" "$work/refused.log" || fail "drip connect trusted the certificate without being told to"

# The REPL's serve tls=on graded by drip check over HTTPS (publishing over HTTPS too): every check passes.
printf 'serve tls=on retry=3s heartbeat=1s\ncheck server /streams/news?id=auto publish=/streams/news?id=auto idle-budget=2s\n' > "$work/check.drip"
"$drip" run "$work/check.drip" > "$work/check.log" 2>&1 || fail "drip check of serve tls=on failed"
grep -q "15 passed, 0 failed" "$work/check.log" || fail "drip check of serve tls=on: $(tail -3 "$work/check.log")"

eight() {  # URL, extra Chromium arguments...: the states of the eight EventSources after up to 3 s
    local url="$1"; shift
    python3 "$root/Tests/SSEServerTests/Browser/cdp.py" "$url/eight" 'JSON.stringify({states, opened})' \
        --until '"open","open","open","open","open","open","open","open"' --timeout 3 "$@" 2> "$work/chromium.log" | tail -1 || true
}
tls_states=$(eight "$secure" "--chromium-arg=--ignore-certificate-errors-spki-list=$pin")
plain_states=$(eight "$plain")
python3 - "$tls_states" "$plain_states" <<'PY' || fail "Chromium: over HTTPS $tls_states, over HTTP/1.1 $plain_states"
import json, sys
secure, plain = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert secure["states"] == ["open"] * 8, ("https", secure)
assert sorted(plain["states"]).count("open") == 6 and plain["states"].count("connecting") == 2, ("http", plain)
PY
echo "http2-browser: ok (Chromium: 8 of 8 open over HTTP/2, 6 of 8 over HTTP/1.1; curl and drip connect read h2; untrusted refused; drip check of serve tls=on all PASS)"
