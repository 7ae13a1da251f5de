#!/usr/bin/env python3
"""A small real upstream for the proxy tests, on an origin of its own, with nothing of drip in it.

GET /page     a page whose EventSource subscribes to /events on the same origin (through whatever
              proxy served the page), keeping every "tick" it saw in `seen` and its states in `states`
GET /events   events id 1 to 6 ("tick", data "n"), 100 ms apart, after the request's Last-Event-ID,
              with retry: 300; then the stream stays open. Each request's Last-Event-ID (or "-") is
              appended to the file given as the first argument.
Prints its port on the first line of standard output, then serves until killed.
"""
import http.server
import sys
import time

PAGE = b"""<!doctype html><meta charset="utf-8"><title>through a proxy</title>
<script>
const seen = [];
const states = [];
const source = new EventSource("/events");
source.onopen = () => states.push("open");
source.onerror = () => states.push(source.readyState === EventSource.CLOSED ? "closed" : "connecting");
source.addEventListener("tick", (event) => seen.push({data: event.data, lastEventId: event.lastEventId}));
</script>"""


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/page"):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(PAGE)))
            self.end_headers()
            self.wfile.write(PAGE)
            return
        if not self.path.startswith("/events"):
            self.send_error(404)
            return
        last = self.headers.get("Last-Event-ID")
        with open(sys.argv[1], "a") as log:
            log.write((last if last is not None else "-") + "\n")
        start = int(last) + 1 if last and last.isdigit() else 1
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        try:
            self.wfile.write(b"retry: 300\n\n")
            for number in range(start, 7):
                self.wfile.write(f"id: {number}\nevent: tick\ndata: {number}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.1)
            while True:
                time.sleep(1)
                self.wfile.write(b": still here\n\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
