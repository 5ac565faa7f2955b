import pytest

from tests.ordering.factories import gift_card_for, submit


@pytest.fixture
def order(customer, store, menu):
    return submit(customer, store, menu)  # 45.00: noodles (hot) 20.00 + 2 dumplings at 12.50


@pytest.fixture
def card(customer, brand):
    return gift_card_for(customer, brand, "100.00")


@pytest.fixture
def paysim(tmp_path, settings):
    """The payment sandbox in this process: the adapters reach it through httpx's WSGI transport
    (no socket) and its notifications reach the site through Django's test client. Tests deliver
    notifications when they choose, with ``paysim.deliver_due()``."""
    from urllib.parse import urlsplit

    import httpx
    from django.test import Client

    from payments.gateways.paysim import PaysimGateway
    from payments.sandbox.conf import build_paysim

    site = Client()

    def send(url, headers, body):
        extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()
                 if name.lower() != "content-type"}
        return site.post(urlsplit(url).path, body, content_type="application/json", **extra).status_code

    sandbox = build_paysim(db_path=str(tmp_path / "paysim.sqlite3"), public_base_url="http://paysim.test",
                           sender=send, faults={"seed": 1})
    settings.PAYMENT_GATEWAYS = {
        channel: {**conf, "base_url": "http://paysim.test"} for channel, conf in settings.PAYMENT_GATEWAYS.items()
    }
    PaysimGateway.transport = httpx.WSGITransport(app=sandbox.wsgi_app)
    yield sandbox
    PaysimGateway.transport = None
    sandbox.close()
