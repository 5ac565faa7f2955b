"""``manage.py run_paysim``: the payment sandbox as its own process (PROTOCOL.md).

    python manage.py run_paysim --port 8901
    python manage.py run_paysim --port 0 --db /tmp/paysim.sqlite3 --faults '{"error_rate": 0.2, "seed": 7}'

A threaded WSGI server (stdlib wsgiref, one daemon thread per connection) on loopback by default,
the sandbox's own SQLite file (``PAYSIM["db_path"]`` unless ``--db``), and the notifier thread
that sends notifications and expires trades. ``--port 0`` takes a free port; the first line of
output says where it listens. Ctrl-C (or SIGTERM) stops it cleanly.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import socketserver
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from django.core.management.base import BaseCommand, CommandError

from payments.sandbox.conf import build_paysim, paysim_settings
from payments.sandbox.faults import FaultConfigError


class ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # load tests open many connections at once (wsgiref closes each one)


class ThreadingWSGIServerV6(ThreadingWSGIServer):
    address_family = socket.AF_INET6


class QuietHandler(WSGIRequestHandler):
    verbose = False

    def log_message(self, format, *args):
        if self.verbose:
            super().log_message(format, *args)


class Command(BaseCommand):
    help = "Run the payment sandbox (an external provider simulator) as its own HTTP server."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8901, help="port (default 8901; 0 = any free port)")
        parser.add_argument("--db", default=None, help="its SQLite file (default: PAYSIM['db_path'])")
        parser.add_argument("--faults", default=None,
                            help='fault settings as JSON, merged over PAYSIM["faults"], e.g. \'{"error_rate": 0.2}\'')
        parser.add_argument("--public-url", default=None,
                            help="the absolute URL it is reached at (pay URLs); default http://HOST:PORT")
        parser.add_argument("--verbose-requests", action="store_true", help="log every request")

    def handle(self, *args, host, port, db, faults, public_url, verbose_requests, **options):
        try:
            fault_changes = json.loads(faults) if faults else {}
        except ValueError as exc:
            raise CommandError(f"--faults is not JSON: {exc}") from exc
        if not isinstance(fault_changes, dict):
            raise CommandError("--faults must be a JSON object")
        if not 0 <= port <= 65535:
            raise CommandError("--port must be between 0 and 65535")

        server_class = ThreadingWSGIServerV6 if ":" in host else ThreadingWSGIServer
        handler = type("Handler", (QuietHandler,), {"verbose": verbose_requests})
        try:
            server = server_class((host.strip("[]"), port), handler)
        except OSError as exc:
            raise CommandError(f"cannot listen on {host}:{port}: {exc}") from exc
        actual_port = server.server_address[1]
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 (we only display it)
        if ":" in shown_host:
            shown_host = f"[{shown_host.strip('[]')}]"
        base_url = (public_url or f"http://{shown_host}:{actual_port}").rstrip("/")
        try:
            sim = build_paysim(db_path=db, faults=fault_changes, public_base_url=base_url)
        except FaultConfigError as exc:
            server.server_close()
            raise CommandError(f"--faults: {exc}") from exc
        server.set_app(sim.wsgi_app)
        if not verbose_requests:  # one INFO line per notification sent would drown the console
            logging.getLogger("httpx").setLevel(logging.WARNING)

        def terminate(signum, frame):
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, terminate)
        sim.start_notifier()
        merchants = ", ".join(f"{mch_id} ({conf['channel'] or '-'})" for mch_id, conf in sim.merchants.items())
        self.stdout.write(f"Paysim listening on http://{shown_host}:{actual_port}/ (public URL {base_url}, "
                          f"db {sim.store.path})")
        self.stdout.write(f"Merchants: {merchants or 'none, see the PAYSIM setting'}")
        active = {k: v for k, v in sim.faults.snapshot().items() if k in fault_changes or
                  k in paysim_settings()["faults"]}
        if active:
            self.stdout.write(f"Faults: {json.dumps(active)}")
        self.stdout.write("Quit with CONTROL-C.")
        self.stdout.flush()
        try:
            server.serve_forever(poll_interval=0.5)
        except KeyboardInterrupt:
            self.stdout.write("Stopping the payment sandbox.")
        finally:
            server.server_close()
            sim.close()
