"""Payments under real concurrency (PostgreSQL, real threads, one connection each): paying while the
order expires, one gift card spent from many threads, one order paid from many threads."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum

from audit.models import AuditEvent
from audit.services import audit_verify
from ordering.models import CancelReason, Order, OrderStatus
from ordering.services import LineRequest, order_expire, orders_expire_due
from payments.errors import InsufficientBalance, PaymentNotAllowed
from payments.models import GiftCard, GiftCardEntry, Payment, PaymentStatus
from payments.services import payment_create
from stores.models import StoreDishOverride
from tests.concurrency import run_together
from tests.ordering.factories import Menu, gift_card_for, submit

RACES = 30


def assert_ledger(card) -> Decimal:
    card = GiftCard.objects.get(pk=card.pk)
    assert card.entries.aggregate(s=Sum("amount"))["s"] == card.balance
    assert not card.entries.filter(balance_after__lt=0).exists()
    running = Decimal("0")
    for entry in card.entries.order_by("pk"):
        running += entry.amount
        assert entry.balance_after == running
    assert running == card.balance >= 0
    return card.balance


def _plenty_of_dumplings(menu, stock=200):
    override = StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk)
    override.stock = stock
    override.save()


@pytest.mark.django_db(transaction=True)
def test_paying_while_the_order_expires_ends_one_way_only(customer, store):
    menu = Menu(store)
    _plenty_of_dumplings(menu, 100)
    card = gift_card_for(customer, store.brand, "1000.00")
    lines = [LineRequest(menu.dumplings.pk, 1), LineRequest(menu.tea.pk, 1)]  # 17.50
    outcomes = []

    for race in range(RACES):
        order = submit(customer, store, menu, lines=lines)
        deadline = order.expires_at

        def pay(order=order, deadline=deadline):
            return payment_create(actor=customer, order_id=order.pk, channel="gift_card",
                                  params={"gift_card": card.pk}, now=deadline - timedelta(seconds=1)).order_paid

        def expire(order=order, deadline=deadline, race=race):
            if race % 2:
                return order_expire(order_id=order.pk, now=deadline + timedelta(seconds=1))
            return orders_expire_due(now=deadline + timedelta(seconds=1)) == 1

        (pay_kind, paid), (expire_kind, expired) = run_together([pay, expire], jitter=0.003)

        order = Order.objects.get(pk=order.pk)
        payments = list(Payment.objects.filter(order=order))
        assert expire_kind == "ok", expired
        if order.status == OrderStatus.PAID:
            assert (pay_kind, paid, expired) == ("ok", True, False)
            assert [(p.status, p.amount) for p in payments] == [(PaymentStatus.SUCCEEDED, Decimal("17.50"))]
            assert GiftCardEntry.objects.filter(payment=payments[0]).count() == 1
            assert len(order.pickup_code) == 6 and order.cancel_reason == ""
            outcomes.append("paid")
        else:
            assert order.status == OrderStatus.CANCELLED and order.cancel_reason == CancelReason.EXPIRED
            assert expired is True and pay_kind == "error"
            assert isinstance(paid, PaymentNotAllowed) and paid.code == "order_cancelled", paid
            assert payments == [] and order.pickup_code == ""
            outcomes.append("expired")
        decided = AuditEvent.objects.filter(object_id=str(order.pk), action__in=["order.paid", "order.expired"])
        assert decided.count() == 1

    paid_count = outcomes.count("paid")
    assert paid_count + outcomes.count("expired") == RACES
    assert assert_ledger(card) == Decimal("1000.00") - Decimal("17.50") * paid_count
    assert GiftCardEntry.objects.filter(card=card, kind="payment").count() == paid_count
    assert StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock == 100 - paid_count
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_one_card_spent_from_10_threads(customer, store):
    menu = Menu(store)
    _plenty_of_dumplings(menu)
    card = gift_card_for(customer, store.brand, "200.00")
    orders = [submit(customer, store, menu) for _ in range(10)]  # 45.00 each
    assert {o.total for o in orders} == {Decimal("45.00")}

    def pay(order):
        return lambda: payment_create(actor=customer, order_id=order.pk, channel="gift_card",
                                      params={"gift_card": card.pk}).payment.pk

    results = run_together([pay(order) for order in orders])

    succeeded = [value for kind, value in results if kind == "ok"]
    refused = [value for kind, value in results if kind == "error"]
    assert len(succeeded) == 4
    assert len(refused) == 6 and all(isinstance(e, InsufficientBalance) for e in refused), refused
    assert assert_ledger(card) == Decimal("20.00")
    assert Payment.objects.count() == 4 and set(Payment.objects.values_list("pk", flat=True)) == set(succeeded)
    assert Order.objects.filter(status=OrderStatus.PAID).count() == 4
    assert Order.objects.filter(status=OrderStatus.PENDING_PAYMENT).count() == 6
    assert GiftCardEntry.objects.filter(card=card, kind="payment").count() == 4
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_one_order_paid_from_5_threads_with_5_cards_is_charged_once(customer, store):
    menu = Menu(store)
    order = submit(customer, store, menu)
    cards = [gift_card_for(customer, store.brand, "100.00") for _ in range(5)]

    def pay(card):
        return lambda: payment_create(actor=customer, order_id=order.pk, channel="gift_card",
                                      params={"gift_card": card.pk}).order_paid

    results = run_together([pay(card) for card in cards])

    assert [value for kind, value in results if kind == "ok"] == [True]
    refused = [value for kind, value in results if kind == "error"]
    assert len(refused) == 4
    assert all(isinstance(e, PaymentNotAllowed) and e.code == "already_paid" for e in refused), refused
    assert Payment.objects.filter(order=order).count() == 1
    assert sorted(assert_ledger(card) for card in cards) == [Decimal("55.00")] + [Decimal("100.00")] * 4
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
