"""A real, independent SMTP server for newshound's delivery tests.

aiosmtpd writes every message it accepts to a Maildir (one file per message in DIR/new/, with
X-Peer, X-MailFrom and X-RcptTo headers recording the envelope). Modes: plain, STARTTLS
(required) or implicit TLS; optional AUTH with one user. Prints READY once it accepts
connections and runs until killed.

    smtp_server.py --port P --maildir DIR [--mode plain|starttls|smtps]
                   [--cert LEAF.pem --key KEY.pem] [--auth USER:PASSWORD]
"""

import argparse
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--mode", choices=["plain", "starttls", "smtps"], default="plain")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--auth")
    args = parser.parse_args()

    kwargs = {}
    context = None
    if args.mode != "plain":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
    if args.mode == "starttls":
        kwargs["tls_context"] = context
        kwargs["require_starttls"] = True
    if args.auth:
        user, password = args.auth.split(":", 1)

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login == user.encode()
                and auth_data.password == password.encode()
            )
            # handled=False: aiosmtpd answers 535 itself on failure (with True it stays silent).
            return AuthResult(success=ok, handled=False)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = args.mode != "plain"

    controller = Controller(
        Mailbox(args.maildir),
        hostname="127.0.0.1",
        port=args.port,
        ssl_context=context if args.mode == "smtps" else None,
        server_hostname="localhost",
        **kwargs,
    )
    controller.start()
    print("READY", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
