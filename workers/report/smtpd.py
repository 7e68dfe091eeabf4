#!/usr/bin/python3
"""smtpd.py: a real SMTP server on 127.0.0.1 for opsbot-report's tests and bench.

Debian's aiosmtpd (python3-aiosmtpd); run with /usr/bin/python3.

  smtpd.py --store DIR --port-file FILE [--port N] [--cert C --key K]
           [--user U --password P] [--slow-file F]

Every accepted message is stored as DIR/<n>.eml (the bytes received after
DATA), written before the 250 reply.  With --cert/--key the server offers
STARTTLS and requires it; with --user/--password it requires AUTH (after
TLS).  While the file named by --slow-file exists, the 250 reply to DATA is
held until that file is removed (tests use this to stop other processes
in the window between "stored" and "250").  --port 0 (default) lets the
kernel pick; the port is written to --port-file once listening.
"""
import argparse
import asyncio
import os
import socket
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Store:
    def __init__(self, root, slow):
        self.root = root
        self.slow = slow
        self.n = len([f for f in os.listdir(root) if f.endswith(".eml")])

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        tmp = os.path.join(self.root, "%d.tmp" % self.n)
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(self.root, "%d.eml" % self.n))
        with open(os.path.join(self.root, "%d.rcpt" % self.n), "w") as f:
            f.write("\n".join(envelope.rcpt_tos) + "\n")
        while self.slow and os.path.exists(self.slow):
            await asyncio.sleep(0.02)
        return "250 2.0.0 stored as %d.eml" % self.n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--slow-file")
    a = ap.parse_args()
    os.makedirs(a.store, exist_ok=True)
    handler = Store(a.store, a.slow_file)
    tls = None
    if a.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(a.cert, a.key)

    def auth(server, session, envelope, mechanism, data):
        ok = (isinstance(data, LoginPassword) and data.login.decode() == a.user
              and data.password.decode() == a.password)
        return AuthResult(success=ok, handled=False)

    kw = {"hostname": "smtp.test", "data_size_limit": 32 << 20}
    if tls:
        kw.update(tls_context=tls, require_starttls=True)
    if a.user:
        kw.update(authenticator=auth, auth_required=True, auth_require_tls=bool(tls))

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", a.port))
    sock.listen(64)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, **kw), sock=sock))
    port = sock.getsockname()[1]
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, a.port_file)
    print("smtpd: listening on 127.0.0.1:%d tls=%s auth=%s" % (port, bool(tls), bool(a.user)),
          flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(main())
