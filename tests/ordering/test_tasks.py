"""Expiry of unpaid orders: the service and the Celery task (eager in tests)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from ordering.models import CancelReason, Order, OrderStatus
from ordering.services import LineRequest, order_expire, orders_expire_due
from ordering.tasks import orders_expire_due_task
from payments.models import Payment
from stores.models import StoreDishOverride
from tests.ordering.factories import paid_order, submit

pytestmark = pytest.mark.django_db


def _stock(menu):
    return StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock


def _status(order):
    return Order.objects.get(pk=order.pk).status


def test_expires_only_due_unpaid_orders_and_releases_their_stock(customer, store, menu):
    start = timezone.now() - timedelta(hours=1)
    due = submit(customer, store, menu, now=start)  # expires start + 15 min
    due_too = submit(customer, store, menu, lines=[LineRequest(menu.dumplings.pk, 3)], now=start + timedelta(minutes=1))
    not_yet = submit(customer, store, menu, now=start + timedelta(minutes=10))  # expires start + 25 min
    paid = paid_order(customer, store, menu)  # paid now; its expiry is in the future anyway
    assert _stock(menu) == 1

    expired = orders_expire_due(now=start + timedelta(minutes=20))

    assert expired == 2
    assert [_status(o) for o in (due, due_too, not_yet, paid)] == [
        OrderStatus.CANCELLED, OrderStatus.CANCELLED, OrderStatus.PENDING_PAYMENT, OrderStatus.PAID,
    ]
    for order in (due, due_too):
        order.refresh_from_db()
        assert order.cancel_reason == CancelReason.EXPIRED
        assert order.cancelled_at == start + timedelta(minutes=20)
        assert order.history.order_by("-history_date").first().history_user is None
    assert _stock(menu) == 6  # 2 + 3 portions back
    assert AuditEvent.objects.filter(action="order.expired").count() == 2
    assert not AuditEvent.objects.filter(action="order.cancelled").exists()


def test_running_twice_changes_nothing_more(customer, store, menu):
    start = timezone.now() - timedelta(hours=1)
    order = submit(customer, store, menu, now=start)
    later = start + timedelta(minutes=16)
    assert orders_expire_due(now=later) == 1
    history = order.history.count()
    assert orders_expire_due(now=later) == 0
    assert orders_expire_due(now=later + timedelta(hours=1)) == 0
    assert order_expire(order_id=order.pk, now=later) is False
    assert _stock(menu) == 10  # released once
    assert order.history.count() == history
    assert AuditEvent.objects.filter(action="order.expired").count() == 1


def test_expiry_exactly_at_the_deadline(customer, store, menu):
    order = submit(customer, store, menu)
    assert orders_expire_due(now=order.expires_at - timedelta(microseconds=1)) == 0
    assert orders_expire_due(now=order.expires_at) == 1
    assert _status(order) == OrderStatus.CANCELLED


def test_brand_expiry_setting_is_used(customer, store, menu):
    store.brand.order_expiry_minutes = 5
    store.brand.save()
    start = timezone.now() - timedelta(hours=1)
    order = submit(customer, store, menu, now=start)
    assert order.expires_at == start + timedelta(minutes=5)
    assert orders_expire_due(now=start + timedelta(minutes=6)) == 1


def test_batch_limit(customer, store, menu):
    start = timezone.now() - timedelta(hours=1)
    orders = [submit(customer, store, menu, lines=[LineRequest(menu.tea.pk, 1)], now=start + timedelta(seconds=i))
              for i in range(3)]
    assert orders_expire_due(now=start + timedelta(minutes=30), limit=2) == 2
    assert [_status(o) for o in orders] == [OrderStatus.CANCELLED, OrderStatus.CANCELLED, OrderStatus.PENDING_PAYMENT]
    assert orders_expire_due(now=start + timedelta(minutes=30), limit=2) == 1


def _payment_in_flight(order, amount="45.00"):
    """A payment whose money may still arrive (an external gateway's, created before it answers)."""
    return Payment.objects.create(brand_id=order.brand_id, order=order, channel="gift_card", amount=Decimal(amount))


def test_an_order_with_a_payment_in_flight_is_never_expired(customer, store, menu):
    """Its money may still arrive: the payment decides, not the clock (nothing is lost)."""
    start = timezone.now() - timedelta(hours=1)
    order = submit(customer, store, menu, now=start)
    _payment_in_flight(order)
    assert orders_expire_due(now=start + timedelta(minutes=20)) == 0
    assert _status(order) == OrderStatus.PENDING_PAYMENT
    assert _stock(menu) == 8


def test_an_order_with_a_payment_in_flight_is_left_to_settle(customer, store, menu):
    start = timezone.now() - timedelta(hours=1)
    order = submit(customer, store, menu, now=start)
    payment = Payment(brand=store.brand, order=order, channel="counter", amount=order.total)
    payment.start()
    payment.save()
    assert order_expire(order_id=order.pk, now=start + timedelta(minutes=20)) is False
    assert _status(order) == OrderStatus.PENDING_PAYMENT


def test_the_celery_task_expires_due_orders(customer, store, menu):
    order = submit(customer, store, menu, now=timezone.now() - timedelta(hours=1))
    fresh = submit(customer, store, menu)

    result = orders_expire_due_task.delay()

    assert result.get(timeout=10) == 1
    assert _status(order) == OrderStatus.CANCELLED
    assert _status(fresh) == OrderStatus.PENDING_PAYMENT
    assert orders_expire_due_task.delay().get(timeout=10) == 0  # safe to run twice
    assert orders_expire_due_task.name == "ordering.tasks.orders_expire_due_task"


def test_orders_with_payments_in_flight_do_not_block_the_batch(customer, store, menu):
    """Orders with a payment in flight stay awaiting payment; they must not fill every batch so that no other
    order ever expires again."""
    start = timezone.now() - timedelta(hours=1)
    stuck = []
    for i in range(2):
        order = submit(customer, store, menu, lines=[LineRequest(menu.tea.pk, 2)], now=start + timedelta(seconds=i))
        _payment_in_flight(order, "10.00")
        stuck.append(order)
    abandoned = submit(customer, store, menu, now=start + timedelta(minutes=2))

    assert orders_expire_due(now=start + timedelta(minutes=30), limit=2) == 1

    assert _status(abandoned) == OrderStatus.CANCELLED
    assert [_status(o) for o in stuck] == [OrderStatus.PENDING_PAYMENT] * 2
