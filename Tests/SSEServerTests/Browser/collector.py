#!/usr/bin/env python3
"""Serves the cross-origin test page for the headless-browser test, on an origin of its own.

GET /page?stream=URL  a page that subscribes to URL with the browser's own EventSource, listens to
                      "tick" events and keeps every one it saw in the global `seen`, and the
                      connection states it went through in `states` (read back over DevTools).
Prints its port on the first line of standard output, then serves until killed.
"""
import http.server

PAGE = b"""<!doctype html><meta charset="utf-8"><title>cross-origin EventSource</title>
<script>
const url = new URLSearchParams(location.search).get("stream");
const seen = [];
const states = [];
const source = new EventSource(url);
source.onopen = () => states.push("open");
source.onerror = () => states.push(source.readyState === EventSource.CLOSED ? "closed" : "connecting");
source.addEventListener("tick", (event) => {
  seen.push({type: event.type, data: event.data, lastEventId: event.lastEventId, origin: event.origin});
});
</script>"""


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if not self.path.startswith("/page"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
