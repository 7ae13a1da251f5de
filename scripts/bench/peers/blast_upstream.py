#!/usr/bin/env python3
"""An upstream for scripts/bench/proxy's throughput run that is never the bottleneck: GET /blast?n=N
answers N events of 100 bytes (id, event, data) as one pre-built body written in 256 KiB pieces,
then closes (HTTP/1.0, the body ends with the connection). Prints its port, then serves until killed."""
import http.server
import sys

EVENT = b"id: 0000000\nevent: tick\ndata: " + b"x" * 68 + b"\n\n"
assert len(EVENT) == 100, len(EVENT)
BODIES = {}


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        count = int(self.path.split("n=")[-1]) if "n=" in self.path else 100000
        body = BODIES.setdefault(count, EVENT * count)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        view = memoryview(body)
        for start in range(0, len(body), 256 << 10):
            self.wfile.write(view[start:start + (256 << 10)])


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
