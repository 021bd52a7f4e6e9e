#!/usr/bin/env python3
"""A web server of the site for .ci/site-test: answers every GET on :PORT.

It plays the thesis's Apache containers (master, webserver): 200 with a page
naming the server, or 500 while the file MODE_FILE holds "500". The test
switches it by writing that file, hangs it with SIGSTOP (the kernel still
accepts connections, nothing answers) and kills it with SIGKILL.
"""

import http.server
import sys


def main():
    name, port, mode_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            try:
                with open(mode_file) as f:
                    status = 500 if f.read().strip() == "500" else 200
            except FileNotFoundError:
                status = 200
            body = f"{name}\n".encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (after a hang): nothing to tell

        def log_message(self, fmt, *args):
            pass  # one probe a second from vigia: not worth a log line

    http.server.ThreadingHTTPServer(("", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
