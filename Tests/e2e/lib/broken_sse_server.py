"""A small SSE server that is broken on purpose, one way at a time, for Tests/e2e/check.sh.

  broken_sse_server.py MODE     prints its port, then serves until killed
  GET  /events   the stream (ids, retry: 2000, a comment every 0.5 s, Cache-Control: no-cache)
  POST /events   publishes the body as one event's data
MODE is one of: fine, noids, gzip (compressed, never flushed), length (Content-Length: 200),
buffered (each event held 2 s), noheartbeat, textplain (Content-Type: text/plain).
"""
import queue
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

mode = sys.argv[1]
subscribers, lock, counter = set(), threading.Lock(), [0]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        data = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        with lock:
            counter[0] += 1
            block = ("" if mode == "noids" else f"id: {counter[0]}\n") + "".join(f"data: {line}\n" for line in data.split("\n")) + "\n"
            for q in subscribers:
                q.put(block)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain" if mode == "textplain" else "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if mode == "gzip":
            self.send_header("Content-Encoding", "gzip")
        if mode == "length":
            self.send_header("Content-Length", "200")
        self.end_headers()
        compressor = zlib.compressobj(wbits=31) if mode == "gzip" else None
        q = queue.Queue()
        with lock:
            subscribers.add(q)
        try:
            self.write(compressor, "retry: 2000\n\n")
            while True:
                try:
                    block = q.get(timeout=0.5)
                    if mode == "buffered":
                        time.sleep(2)
                    self.write(compressor, block)
                except queue.Empty:
                    if mode != "noheartbeat":
                        self.write(compressor, ":\n")
        except OSError:
            pass
        finally:
            with lock:
                subscribers.discard(q)

    def write(self, compressor, text):
        data = text.encode()
        if compressor:
            data = compressor.compress(data)
        if data:
            self.wfile.write(data)
            self.wfile.flush()


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
