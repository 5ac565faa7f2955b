"""Browser tests: Playwright drives Debian's chromium against pytest-django's live server.

Playwright's own browser download is not used (it cannot reach the internet here); the browser
is ``/usr/bin/chromium`` (``CHROMIUM_PATH`` to change), installed by scripts/ensure-chromium.sh
in CI. Without it these tests skip and say why.
"""

import os
import socketserver
import threading
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.test import Client

from payments.sandbox.conf import build_paysim

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# Playwright's sync API runs an event loop in the test thread; the ORM calls the test makes
# around it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium (scripts/ensure-chromium.sh)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "locale": "en-US", "viewport": {"width": 390, "height": 844}}


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def sandbox_server(tmp_path, settings, live_server):
    """The sandbox as a separate HTTP server on loopback, notifying the live server."""
    server = make_server("127.0.0.1", 0, lambda environ, start: app(environ, start),
                         server_class=_ThreadingServer, handler_class=_Quiet)
    url = f"http://127.0.0.1:{server.server_port}"
    sandbox = build_paysim(db_path=str(tmp_path / "paysim.sqlite3"), public_base_url=url)
    app = sandbox.wsgi_app
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sandbox.start_notifier()
    settings.SITE_URL = live_server.url
    settings.PAYMENT_GATEWAYS = {
        channel: {**conf, "base_url": url, "notify_url": f"{live_server.url}/api/v1/payments/notify/{channel}/"}
        for channel, conf in settings.PAYMENT_GATEWAYS.items()
    }
    yield sandbox
    sandbox.close()
    server.shutdown()
    server.server_close()


def logged_in_page(browser, browser_context_args, live_server, user):
    client = Client()
    client.force_login(user)
    context = browser.new_context(**browser_context_args)
    context.set_default_timeout(10_000)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return context, context.new_page()
