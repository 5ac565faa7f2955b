"""The customer back from the provider's page while the order row is locked (PostgreSQL, a real
second connection holding the lock): never a 500, the pay page keeps confirming by itself."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse

from ordering.models import Order, OrderStatus
from payments.models import PaymentStatus
from payments.services import _common as common
from payments.services import payment_create
from payments.services.provider import payments_check_due
from tests.ordering.factories import Menu, submit
from tests.payments.fakes import FakeProvider, install, uninstall

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake():
    provider = install(FakeProvider())
    yield provider
    uninstall(provider)


def test_return_while_the_order_is_locked_redirects_to_the_pay_page_that_keeps_confirming(
    fake, client, customer, store, monkeypatch
):
    monkeypatch.setattr(common, "LOCK_TIMEOUT", "300ms")
    order = submit(customer, store, Menu(store))
    payment = payment_create(actor=customer, order_id=order.pk, channel="fakepay").payment
    fake.pay(payment)  # the payer confirmed at the provider
    client.force_login(customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    pay_url = reverse("payments:order-pay", kwargs={"order_id": order.pk})
    held, release = threading.Event(), threading.Event()

    def hold_the_order():  # e.g. the provider's notification being handled right now
        with transaction.atomic():
            Order.objects.select_for_update().get(pk=order.pk)
            held.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_the_order)
    holder.start()
    try:
        assert held.wait(10)
        response = client.get(reverse("payments:order-pay-return", kwargs={"order_id": order.pk}))
        assert response.status_code == 302 and response["Location"] == pay_url
        page = client.get(pay_url)
        html = page.content.decode()
        assert page.status_code == 200
        assert "We are still confirming your payment. This page updates by itself." in html
        assert 'hx-trigger="every 3s"' in html  # the status block polls until the answer is in
    finally:
        release.set()
        holder.join(10)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING  # nothing recorded half way

    payments_check_due(now=payment.next_check_at)  # the lock is gone: the checker settles it
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    status = client.get(pay_url + "?part=status", HTTP_HX_REQUEST="true").content.decode()
    assert "Paid. Thank you!" in status and order.pickup_code in status and "hx-trigger" not in status
    back = client.get(reverse("payments:order-pay-return", kwargs={"order_id": order.pk}))
    assert back["Location"] == reverse("ordering:order-detail", kwargs={"order_id": order.pk})
