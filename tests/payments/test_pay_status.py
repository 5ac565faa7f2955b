"""The pay page's live status block (``?part=status``, polled with HTMX while a payment waits for
its answer) and the return from the provider's page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from ordering.models import OrderStatus
from payments.models import PaymentStatus
from payments.services import payment_create
from payments.services.provider import payment_sync
from tests.accounts.factories import UserFactory
from tests.ordering.factories import gift_card_for, submit
from tests.payments.fakes import FakeProvider, install, uninstall

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def fake():
    provider = install(FakeProvider())
    yield provider
    uninstall(provider)


@pytest.fixture
def en_client(client, customer):
    client.force_login(customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def pay_url(order) -> str:
    return reverse("payments:order-pay", kwargs={"order_id": order.pk})


def status_url(order) -> str:
    return pay_url(order) + "?part=status"


def _version(html: str) -> str:
    """The ``v`` the block polls with (the last query parameter of its ``hx-get``)."""
    start = html.index("&amp;v=") + len("&amp;v=")
    return html[start:html.index('"', start)]


def test_the_pay_page_polls_its_status_block_while_a_payment_waits(fake, en_client, customer, order):
    payment = payment_create(actor=customer, order_id=order.pk, channel="fakepay").payment
    html = en_client.get(pay_url(order)).content.decode()
    assert 'id="pay-status"' in html and 'hx-trigger="every 3s"' in html
    assert f'hx-get="{status_url(order)}&amp;v=' in html
    assert "A payment of ¥45.00 with FakePay has been started." in html
    assert "this page updates by itself" in html
    assert 'id="pay-forms"' in html and "Pay with FakePay" in html  # another way stays possible
    assert payment.action_url in html


def test_the_pay_page_does_not_poll_when_nothing_waits(fake, en_client, order):
    html = en_client.get(pay_url(order)).content.decode()
    assert 'id="pay-status"' in html and "hx-trigger" not in html


def test_the_status_block_answers_204_while_nothing_changed(fake, en_client, customer, order):
    payment_create(actor=customer, order_id=order.pk, channel="fakepay")
    first = en_client.get(status_url(order), **HTMX)
    assert first.status_code == 200
    html = first.content.decode()
    assert html.lstrip().startswith('<section id="pay-status"') and "<html" not in html
    assert "Pay with FakePay" not in html  # the block only, not the forms
    unchanged = en_client.get(status_url(order) + "&v=" + _version(html), **HTMX)
    assert unchanged.status_code == 204 and unchanged.content == b""
    stale = en_client.get(status_url(order) + "&v=old", **HTMX)
    assert stale.status_code == 200 and 'hx-trigger="every 3s"' in stale.content.decode()


def test_the_status_block_shows_paid_stops_polling_and_removes_the_forms(fake, en_client, customer, order):
    payment = payment_create(actor=customer, order_id=order.pk, channel="fakepay").payment
    version = _version(en_client.get(status_url(order), **HTMX).content.decode())
    fake.pay(payment)
    payment_sync(payment_id=payment.pk)  # the notification or the checker, while the page polls
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    response = en_client.get(status_url(order) + "&v=" + version, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Paid. Thank you!" in html and f"Your pickup code is {order.pickup_code}." in html
    assert reverse("ordering:order-detail", kwargs={"order_id": order.pk}) in html
    assert "hx-trigger" not in html and "hx-get" not in html  # final: the poll stops here
    assert '<div id="pay-forms" hx-swap-oob="true"></div>' in html


def test_the_status_block_says_why_a_payment_with_another_amount_was_not_accepted(fake, en_client, customer,
                                                                                 order):
    payment = payment_create(actor=customer, order_id=order.pk, channel="fakepay").payment
    fake.pay(payment, amount=Decimal("4.50"))
    payment_sync(payment_id=payment.pk)
    html = en_client.get(status_url(order), **HTMX).content.decode()
    assert "FakePay reported a different amount from the one to pay, so we did not accept this payment" in html
    assert "nothing was charged" not in html
    assert "hx-trigger" not in html and "hx-swap-oob" not in html  # final, and the order is still payable
    page = en_client.get(pay_url(order)).content.decode()
    assert "reported a different amount" in page and "Pay with FakePay" in page


def test_the_status_block_says_a_cancelled_payment_charged_nothing(fake, en_client, customer, order):
    payment = payment_create(actor=customer, order_id=order.pk, channel="fakepay").payment
    fake.trades[payment.out_trade_no]["status"] = "closed"  # the payer cancelled at the provider
    payment_sync(payment_id=payment.pk)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    html = en_client.get(status_url(order), **HTMX).content.decode()
    assert "The payment with FakePay was cancelled; nothing was charged. You can pay again." in html
    assert "hx-trigger" not in html


def test_the_status_block_of_an_order_paid_meanwhile_by_gift_card(en_client, customer, order, card):
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    html = en_client.get(status_url(order), **HTMX).content.decode()
    assert "Paid. Thank you!" in html and 'hx-swap-oob="true"' in html


def test_the_status_block_is_the_owners_only(fake, client, customer, order):
    payment_create(actor=customer, order_id=order.pk, channel="fakepay")
    client.force_login(UserFactory(phone="13800000077"))
    assert client.get(status_url(order), **HTMX).status_code == 404
    anonymous = Client()
    assert anonymous.get(status_url(order), **HTMX).status_code == 286  # HTMX: stop polling
    login = anonymous.get(status_url(order))
    assert login.status_code == 302 and reverse("accounts:login") in login["Location"]


def test_the_status_block_shows_the_kiosk_receipt_code_only_to_the_browser_that_paid(store, menu):
    order = submit(None, store, menu, source="kiosk")  # anyone logged in may pay it
    payer = UserFactory(phone="13800000066")
    browser = Client()
    browser.force_login(payer)
    browser.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    card = gift_card_for(payer, store.brand, "100.00")
    browser.post(pay_url(order), {"channel": "gift_card", "card": str(card.pk)})
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    html = browser.get(status_url(order), **HTMX).content.decode()
    assert f"Your pickup code is {order.pickup_code}." in html and "Show the receipt" in html
    other = Client()
    other.force_login(UserFactory(phone="13800000055"))
    other.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = other.get(status_url(order), **HTMX).content.decode()
    assert "Paid. Thank you!" in html and order.pickup_code not in html
