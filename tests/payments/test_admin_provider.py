"""The admin shows every exchange with a provider, and lets staff ask a provider again."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Role
from payments.models import PaymentEvent, PaymentStatus, RefundAttempt
from payments.services import payment_create
from tests.payments.fakes import FakeProvider, install, uninstall
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def fake():
    provider = install(FakeProvider())
    yield provider
    uninstall(provider)


@pytest.fixture
def waiting(fake, customer, order):
    return payment_create(actor=customer, order_id=order.pk, channel="fakepay").payment


def test_the_payment_page_lists_its_events(client, hq_manager, waiting):
    client.force_login(hq_manager)
    response = client.get(reverse("admin:payments_payment_change", args=[waiting.pk]), **EN)
    assert response.status_code == 200
    page = response.content.decode()
    assert waiting.out_trade_no in page and "https://fakepay.test/pay/" in page
    assert "Payment started" in page  # the start event, inline


def test_event_list_and_detail_for_hq_not_for_other_brands(client, hq_manager, other_brand, waiting):
    client.force_login(hq_manager)
    event = PaymentEvent.objects.get(payment=waiting)
    response = client.get(reverse("admin:payments_paymentevent_changelist"), **EN)
    assert [row.pk for row in response.context["cl"].result_list] == [event.pk]
    detail = client.get(reverse("admin:payments_paymentevent_change", args=[event.pk]), **EN)
    assert detail.status_code == 200 and "redirect" in detail.content.decode()
    # Events are evidence: no add, change or delete.
    assert client.post(reverse("admin:payments_paymentevent_delete", args=[event.pk]), {"post": "yes"}).status_code \
        == 403
    assert PaymentEvent.objects.filter(pk=event.pk).exists()


def test_store_manager_of_another_store_does_not_see_the_events(client, brand, waiting):
    other = StoreFactory(brand=brand, code="SH009")
    manager = make_staff(role=Role.STORE_MANAGER, brand=brand, stores=[other], phone="13700000099")
    client.force_login(manager)
    # Events are HQ's; a store manager reads a payment's own page instead.
    assert client.get(reverse("admin:payments_paymentevent_changelist")).status_code == 403
    assert client.get(reverse("admin:payments_payment_change", args=[waiting.pk])).status_code in (302, 403, 404)


def test_check_now_asks_the_provider_and_records_the_answer(client, hq_manager, fake, waiting, order):
    fake.pay(waiting)
    client.force_login(hq_manager)
    response = client.post(reverse("admin:payments_payment_changelist"),
                           {"action": "check_now", "_selected_action": [str(waiting.pk)]}, **EN, follow=True)
    assert "1 payment(s) checked" in response.content.decode()
    waiting.refresh_from_db()
    order.refresh_from_db()
    assert waiting.status == PaymentStatus.SUCCEEDED and order.status == "paid"
    assert list(waiting.events.order_by("pk").values_list("kind", "outcome")) == [
        ("start", "started"), ("query", "pending->succeeded")]


def test_refund_attempts_are_listed_read_only(client, hq_manager, fake, waiting, customer, order, card,
                                              django_capture_on_commit_callbacks):
    from payments.services.provider import payment_sync

    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    fake.pay(waiting)
    with django_capture_on_commit_callbacks(execute=True):
        payment_sync(payment_id=waiting.pk)
    attempt = RefundAttempt.objects.get()
    client.force_login(hq_manager)
    response = client.get(reverse("admin:payments_refundattempt_changelist"), **EN)
    assert [row.pk for row in response.context["cl"].result_list] == [attempt.pk]
    detail = client.get(reverse("admin:payments_refundattempt_change", args=[attempt.pk]), **EN)
    page = detail.content.decode()
    assert attempt.out_refund_no in page and "Second payment of a paid order" in page
    assert attempt.status == "succeeded" and "Download PDF" not in page
