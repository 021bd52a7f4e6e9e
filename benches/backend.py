#!/usr/bin/env python3
"""A web server for the failover benches (failover.sh, dnssec_failover.sh). Usage: backend.py IP PORT MODEFILE.

The mode file, re-read for every request (and every 10 ms for 'stopped'):
  ok       200 "ok"
  500      500 "ok"
  hang     reads the request, never answers
  stopped  listener closed (connections refused); any other mode reopens it
"""
import http.server
import sys
import threading
import time

ip, port, modefile = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def mode():
    try:
        with open(modefile) as f:
            return f.read().strip() or "ok"
    except OSError:
        return "ok"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        m = mode()
        if m == "hang":
            time.sleep(3600)
            return
        body = b"ok\n"
        self.send_response(500 if m == "500" else 200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


server = None
while True:
    stopped = mode() == "stopped"
    if server is None and not stopped:
        server = Server((ip, port), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    elif server is not None and stopped:
        server.shutdown()
        server.server_close()
        server = None
    time.sleep(0.01)
