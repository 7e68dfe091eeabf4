#!/usr/bin/env python3
"""detect_target.py: a metrics target for opsbot-detect's integration tests.

Serves Prometheus text exposition on 127.0.0.1 (port 0: the kernel picks;
the port is written to PORTFILE).  Values are noisy around a base; while the
file MODEFILE contains "spike", payment's CPU and checkout's latency jump.
Usage: detect_target.py PORTFILE MODEFILE
"""
import http.server, random, sys

portfile, modefile = sys.argv[1], sys.argv[2]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/metrics":
            self.send_error(404)
            return
        try:
            spike = open(modefile).read().strip() == "spike"
        except OSError:
            spike = False
        cpu = 30 + random.gauss(0, 1) + (50 if spike else 0)
        lat = 0.12 + random.gauss(0, 0.004) + (0.2 if spike else 0)
        cat = 20 + random.gauss(0, 1)
        body = (
            "# HELP shop_cpu CPU use in percent.\n# TYPE shop_cpu gauge\n"
            'shop_cpu{service="payment"} %.3f\nshop_cpu{service="catalogue"} %.3f\n'
            "# HELP shop_latency_seconds p99 latency.\n# TYPE shop_latency_seconds gauge\n"
            'shop_latency_seconds{service="checkout"} %.4f\n' % (cpu, cat, lat)
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(portfile + ".tmp", portfile)
srv.serve_forever()
