#!/usr/bin/env python3
"""A scripted HTTP server for the http module's unit test.

GET/POST /flaky/KEY/N/CODE  -> CODE for the first N requests of KEY, then 200
     /ra/KEY/N/SECS         -> 429 with Retry-After: SECS for the first N, then 200
     /slow/SECS             -> sleeps, then 200
     /big/BYTES             -> a body of BYTES bytes
     /count/KEY             -> how many requests KEY has seen
     /echo                  -> the request's method, headers and body as JSON
Writes its port to argv[1] once listening; exits when stdin closes.
"""
import json, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

counts = {}
lock = threading.Lock()


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        p = self.path.strip("/").split("/")
        if p[0] in ("flaky", "ra"):
            key, lim = p[1], int(p[2])
            with lock:
                counts[key] = counts.get(key, 0) + 1
                c = counts[key]
            if c <= lim:
                if p[0] == "flaky":
                    return self.reply(int(p[3]), b'{"error":"try again"}')
                return self.reply(429, b"slow down", [("Retry-After", p[3])])
            return self.reply(200, b'{"ok":true}')
        if p[0] == "slow":
            time.sleep(float(p[1]))
            return self.reply(200, b"late")
        if p[0] == "big":
            return self.reply(200, b"x" * int(p[1]))
        if p[0] == "count":
            return self.reply(200, str(counts.get(p[1], 0)).encode())
        if p[0] == "echo":
            return self.reply(200, json.dumps({"method": self.command,
                                               "headers": dict(self.headers),
                                               "body": body.decode("latin1")}).encode())
        self.reply(404, b"no")

    do_GET = do_POST = do_PUT = do_DELETE = handle_any


class S(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # clients that time out on purpose reset their connections


srv = S(("127.0.0.1", 0), H)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
threading.Thread(target=srv.serve_forever, daemon=True).start()
sys.stdin.read()
