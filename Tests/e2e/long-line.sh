#!/usr/bin/env bash
# An event stream whose one line is 100 MB: drip connect stops at its line limit with an error that
# says so (status 1, no reconnection), without holding the line in memory (its peak RSS stays far
# below the line), and the server side sees the connection closed early.
#   Tests/e2e/long-line.sh PATH/TO/drip
set -euo pipefail
drip="$1"
python3 - "$drip" <<'PY'
import resource, socket, subprocess, sys, threading

drip = sys.argv[1]
line_mb = 100
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
port = listener.getsockname()[1]
sent = {"bytes": 0}

def serve():
    connection, _ = listener.accept()
    request = b""
    while b"\r\n\r\n" not in request:
        request += connection.recv(4096)
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\ndata: ")
    block = b"a" * (1 << 20)
    try:
        for _ in range(line_mb):
            connection.sendall(block)
            sent["bytes"] += len(block)
        connection.sendall(b"\n\n")
    except OSError:
        pass
    connection.close()

threading.Thread(target=serve, daemon=True).start()
result = subprocess.run([drip, "connect", f"http://127.0.0.1:{port}/long"],
                        capture_output=True, text=True, timeout=60)
peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
output = result.stdout + result.stderr
def fail(message):
    print(f"long-line: FAILED: {message}\n--- drip connect printed\n{output[-2000:]}")
    sys.exit(1)
if result.returncode != 1:
    fail(f"exited {result.returncode}, not 1")
if "line" not in output or "limit" not in output:
    fail("no error naming the line limit")
if "reconnecting" in output:
    fail("it tried to reconnect after a limit error")
if peak_mb > 64:
    fail(f"peak RSS {peak_mb:.0f} MB for a {line_mb} MB line")
if sent["bytes"] >= line_mb << 20:
    fail("the whole line was read; the client should stop at its limit")
print(f"long-line: ok (stopped after {sent['bytes'] >> 20} MB sent of {line_mb} MB; peak RSS {peak_mb:.0f} MB; said: {output.strip().splitlines()[-1]})")
PY
