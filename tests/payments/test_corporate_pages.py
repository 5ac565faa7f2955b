"""What the payer sees: paying by the company's transfer on the pay page, with the instructions
(our bank account, the amount, the reference to quote and the deadline)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from ordering.models import OrderStatus
from payments.models import PaymentStatus
from payments.services.corporate import corporate_transfer_confirm
from tests.payments.corporate_world import company_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def en_client(client, customer):
    client.force_login(customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def pay_url(order) -> str:
    return reverse("payments:order-pay", kwargs={"order_id": order.pk})


def test_the_channel_is_offered_to_members_only(en_client, brand, customer, order):
    assert "Pay with Corporate account (bank transfer)" not in en_client.get(pay_url(order)).content.decode()
    company_for(brand, customer)
    body = en_client.get(pay_url(order)).content.decode()
    assert "Pay with Corporate account (bank transfer)" in body


def test_paying_by_transfer_shows_what_to_transfer_and_the_order_is_paid_once_confirmed(
    en_client, brand, customer, order, hq_manager
):
    company_for(brand, customer, hours=24)
    response = en_client.post(pay_url(order), {"channel": "corporate"})
    assert response.status_code == 302 and response["Location"] == pay_url(order)
    payment = order.payments.get()
    assert payment.status == PaymentStatus.PENDING

    body = en_client.get(pay_url(order)).content.decode()
    payee = settings.PAYMENT_CORPORATE_PAYEE
    for text in (payee["bank"], payee["account_name"], payee["account_number"], "¥45.00", payment.qr_content,
                 "Reference to quote",
                 timezone.localtime(payment.pay_before).strftime("%Y-%m-%d %H:%M")):
        assert text in body, text

    corporate_transfer_confirm(actor=hq_manager, payment_id=payment.pk, reference="ICBC-1")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    response = en_client.get(pay_url(order))
    assert response.status_code == 302  # paid: on to the order page
