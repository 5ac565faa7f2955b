"""Ordering under real concurrency: PostgreSQL, real threads, one connection each
(``tests.concurrency.run_together``)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Sum

from audit.services import audit_verify
from ordering.models import Order, OrderLine, OrderNumberCounter, OrderStatus
from ordering.services import LineRequest, order_submit, orders_expire_due
from stores.models import StoreDishOverride
from stores.services import SoldOut
from tests.accounts.factories import UserFactory
from tests.concurrency import run_together
from tests.ordering.factories import Menu, submit


def _errors(results):
    return [value for kind, value in results if kind == "error"]


@pytest.mark.django_db(transaction=True)
def test_100_buyers_for_10_portions(store):
    assert connection.vendor == "postgresql"
    menu = Menu(store)  # dumplings: stock 10
    buyers = [UserFactory() for _ in range(100)]
    one = [LineRequest(dish_id=menu.dumplings.pk, quantity=1)]

    def buy(customer):
        return lambda: order_submit(actor=customer, store=store, fulfilment="pickup", lines=one).order.pk

    results = run_together([buy(customer) for customer in buyers])

    won = [value for kind, value in results if kind == "ok"]
    errors = _errors(results)
    assert len(won) == 10
    assert len(errors) == 90 and all(isinstance(e, SoldOut) for e in errors), {type(e) for e in errors}
    orders = Order.objects.filter(store=store)
    assert orders.count() == 10 and set(orders.values_list("pk", flat=True)) == set(won)
    assert orders.values("customer").distinct().count() == 10
    assert OrderLine.objects.filter(order__store=store).aggregate(s=Sum("quantity"))["s"] == 10
    assert StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock == 0
    assert sorted(orders.values_list("number", flat=True)) == list(range(1, 11))
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_one_idempotency_key_sent_20_times_makes_one_order(customer, store):
    menu = Menu(store)

    def send():
        result = order_submit(
            actor=customer, store=store, fulfilment="pickup", idempotency_key="tap-tap-tap",
            lines=[LineRequest(menu.dumplings.pk, 2), LineRequest(menu.tea.pk, 1)],
        )
        return result.order.pk, result.created

    results = run_together([send] * 20)

    assert _errors(results) == []
    ids = {value[0] for _kind, value in results}
    assert len(ids) == 1
    assert sorted(value[1] for _kind, value in results) == [False] * 19 + [True]
    order = Order.objects.get()
    assert order.pk in ids and order.number == 1
    assert StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock == 8  # reserved once
    assert OrderNumberCounter.objects.get(store=store).last_number == 1  # losers rolled their number back
    assert OrderLine.objects.count() == 2
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_30_parallel_submits_get_numbers_1_to_30(store):
    menu = Menu(store)
    customers = [UserFactory() for _ in range(30)]

    def place(customer):
        return lambda: order_submit(actor=customer, store=store, fulfilment="pickup",
                                    lines=[LineRequest(menu.tea.pk, 1)]).order.number

    results = run_together([place(c) for c in customers])

    assert _errors(results) == []
    numbers = [value for _kind, value in results]
    assert sorted(numbers) == list(range(1, 31))
    assert Counter(Order.objects.values_list("number", flat=True)).most_common(1)[0][1] == 1
    assert OrderNumberCounter.objects.get(store=store).last_number == 30


@pytest.mark.django_db(transaction=True)
def test_expiry_skips_an_order_whose_row_is_locked(customer, store):
    menu = Menu(store)
    locked_order = submit(customer, store, menu)
    free_order = submit(customer, store, menu)
    later = max(locked_order.expires_at, free_order.expires_at) + timedelta(minutes=1)
    holding, release = threading.Event(), threading.Event()
    problems: list[BaseException] = []

    def hold_the_row():
        try:
            with transaction.atomic():
                Order.objects.select_for_update().get(pk=locked_order.pk)
                holding.set()
                release.wait(timeout=20)
        except BaseException as exc:
            problems.append(exc)
        finally:
            holding.set()
            connection.close()

    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert holding.wait(timeout=20)
        assert orders_expire_due(now=later) == 1  # only the free one; no waiting on the lock
        assert Order.objects.get(pk=locked_order.pk).status == OrderStatus.PENDING_PAYMENT
        assert Order.objects.get(pk=free_order.pk).status == OrderStatus.CANCELLED
    finally:
        release.set()
        holder.join(timeout=20)
    assert problems == []

    assert orders_expire_due(now=later) == 1  # the next run picks it up
    assert Order.objects.get(pk=locked_order.pk).status == OrderStatus.CANCELLED
    assert StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock == 10
