"""News about one payment arriving from several sides at once (PostgreSQL, real threads): the
provider's notification and its duplicates, our poller, the expiry task. One transition, one
pickup code, money recorded once; a callback that finds the order locked gets a 503."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test import Client

from audit.models import AuditEvent
from audit.services import audit_verify
from ordering.models import Order, OrderStatus
from ordering.services import orders_expire_due
from payments.models import Payment, PaymentEvent, PaymentStatus, RefundAttempt
from payments.services import _common as common
from payments.services import payment_create
from payments.services.provider import payment_sync
from tests.concurrency import run_together
from tests.ordering.factories import Menu, gift_card_for, submit
from tests.payments.fakes import FakeProvider, install, uninstall

pytestmark = pytest.mark.django_db(transaction=True)
NOTIFY = "/api/v1/payments/notify/fakepay/"


@pytest.fixture
def fake():
    provider = install(FakeProvider())
    yield provider
    uninstall(provider)


def _notify(payment, event_id):
    body = json.dumps({"id": event_id, "type": "payment.succeeded", "out_trade_no": payment.out_trade_no})
    return Client().post(NOTIFY, body, content_type="application/json", HTTP_X_FAKE_SIGNATURE="good").status_code


def test_notifications_duplicates_poller_and_expiry_racing_settle_the_payment_once(fake, customer, store):
    menu = Menu(store)
    for round_ in range(5):
        order = submit(customer, store, menu)
        payment = payment_create(actor=customer, order_id=order.pk, channel="fakepay").payment
        fake.pay(payment)
        later = order.expires_at + timedelta(seconds=1)
        same = f"evt-{round_}-same"
        workers = (
            [lambda p=payment, e=same: _notify(p, e) for _ in range(4)]  # one event delivered 4 times
            + [lambda p=payment, e=f"evt-{round_}-{i}": _notify(p, e) for i in range(3)]  # same news, other ids
            + [lambda p=payment: payment_sync(payment_id=p.pk).status for _ in range(3)]
            + [lambda at=later: orders_expire_due(now=at)]
        )
        results = run_together(workers, jitter=0.01)
        assert all(kind == "ok" for kind, _value in results), results
        assert {value for _kind, value in results[:7]} <= {200, 503}
        payment.refresh_from_db()
        order.refresh_from_db()
        assert payment.status == PaymentStatus.SUCCEEDED
        assert order.status == OrderStatus.PAID and len(order.pickup_code) == 6
        assert AuditEvent.objects.filter(action="order.paid", object_id=str(order.pk)).count() == 1
        assert AuditEvent.objects.filter(action="payment.succeeded", object_id=str(payment.pk)).count() == 1
        assert order.history.filter(status=OrderStatus.PAID).count() == 1
        assert PaymentEvent.objects.filter(provider_event_id=same).count() <= 1
    assert not RefundAttempt.objects.exists()
    assert audit_verify().ok


def test_two_payments_succeeding_together_pay_once_and_refund_the_other(fake, customer, store):
    menu = Menu(store)
    card = gift_card_for(customer, store.brand, "500.00")
    for _round in range(5):
        order = submit(customer, store, menu)
        external = payment_create(actor=customer, order_id=order.pk, channel="fakepay").payment
        fake.pay(external)
        results = run_together([
            lambda o=order: payment_create(actor=customer, order_id=o.pk, channel="gift_card",
                                           params={"gift_card": card.pk}).order_paid,
            lambda p=external: payment_sync(payment_id=p.pk).status,
        ])
        order.refresh_from_db()
        assert order.status == OrderStatus.PAID
        succeeded = Payment.objects.filter(order=order, status__in=("succeeded", "refunded"))
        refunds = RefundAttempt.objects.filter(payment__order=order)
        if results[0][0] == "error":  # the poller paid first: the card was refused, nothing taken
            assert succeeded.count() == 1 and not refunds.exists()
        else:  # both succeeded: the later one is refunded in full, automatically
            assert succeeded.count() == 2 and refunds.count() == 1
            assert refunds.get().amount == order.total
    assert audit_verify().ok


def test_a_callback_that_finds_the_order_locked_gets_503_and_the_retry_succeeds(fake, customer, store,
                                                                                monkeypatch):
    monkeypatch.setattr(common, "LOCK_TIMEOUT", "300ms")
    order = submit(customer, store, Menu(store))
    payment = payment_create(actor=customer, order_id=order.pk, channel="fakepay").payment
    fake.pay(payment)
    held, release = threading.Event(), threading.Event()

    def hold_the_order():
        with transaction.atomic():
            Order.objects.select_for_update().get(pk=order.pk)
            held.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_the_order)
    holder.start()
    assert held.wait(10)
    started = time.monotonic()
    assert _notify(payment, "evt-locked") == 503
    assert time.monotonic() - started < 5
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert not PaymentEvent.objects.filter(provider_event_id="evt-locked").exists()  # so the retry counts
    release.set()
    holder.join(10)
    assert _notify(payment, "evt-locked") == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert Payment.objects.get(pk=payment.pk).amount == Decimal("45.00")
