"""The gift card ledger: the balance is the sum of its entries, never negative, and entries are never changed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import Sum

from config.append_only import AppendOnlyError
from ordering.services import LineRequest
from payments.errors import InsufficientBalance
from payments.ledger import gift_card_append, gift_card_lock
from payments.models import GiftCard, GiftCardEntry, GiftCardEntryKind
from payments.services import gift_card_top_up, payment_create
from tests.ordering.factories import gift_card_for, submit

pytestmark = pytest.mark.django_db


def assert_ledger_consistent(card: GiftCard) -> None:
    card = GiftCard.objects.get(pk=card.pk)
    entries = list(card.entries.order_by("created_at", "pk"))
    assert sum((e.amount for e in entries), Decimal("0")) == card.balance
    assert card.entries.aggregate(s=Sum("amount"))["s"] == card.balance
    running = Decimal("0")
    for entry in entries:
        running += entry.amount
        assert entry.balance_after == running >= 0
    assert entries[-1].balance_after == card.balance


def test_balance_is_the_sum_of_entries_after_a_sequence(customer, store, menu, hq_manager, brand):
    card = gift_card_for(customer, brand, "60.00", actor=hq_manager)

    def pay(order, **kwargs):
        return payment_create(actor=customer, order_id=order.pk, channel="gift_card",
                              params={"gift_card": card.pk}, **kwargs)

    first, second = submit(customer, store, menu), submit(customer, store, menu)  # 45.00 each
    assert pay(first).order_paid  # 15.00 left
    assert_ledger_consistent(card)
    with pytest.raises(InsufficientBalance):
        pay(second)
    assert_ledger_consistent(card)
    gift_card_top_up(actor=hq_manager, card_id=card.pk, amount="100")
    assert pay(second).order_paid
    third = submit(customer, store, menu, lines=[LineRequest(menu.tea.pk, 3)])  # 15.00
    assert pay(third).order_paid

    card.refresh_from_db()
    assert card.balance == Decimal("55.00")  # 60 - 45 + 100 - 45 - 15
    assert list(card.entries.order_by("pk").values_list("kind", "amount")) == [
        ("issue", Decimal("60.00")), ("payment", Decimal("-45.00")),
        ("top_up", Decimal("100.00")), ("payment", Decimal("-45.00")), ("payment", Decimal("-15.00")),
    ]
    assert_ledger_consistent(card)


def test_append_refuses_to_overdraw_and_to_move_nothing(customer, brand):
    card = gift_card_for(customer, brand, "10.00")
    with transaction.atomic():
        locked = gift_card_lock(card_id=card.pk)
        with pytest.raises(InsufficientBalance):
            gift_card_append(card=locked, kind=GiftCardEntryKind.ADJUSTMENT, amount=Decimal("-10.01"))
        with pytest.raises(ValueError, match="moves money"):
            gift_card_append(card=locked, kind=GiftCardEntryKind.ADJUSTMENT, amount=Decimal("0.001"))
        entry = gift_card_append(card=locked, kind=GiftCardEntryKind.ADJUSTMENT, amount=Decimal("-10.00"))
    assert entry.balance_after == Decimal("0.00")
    assert_ledger_consistent(card)


def test_entries_cannot_be_updated_or_deleted(customer, brand):
    card = gift_card_for(customer, brand, "10.00")
    entry = card.entries.get()
    entry.amount = Decimal("1000.00")
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        GiftCardEntry.objects.filter(pk=entry.pk).update(amount=Decimal("1000.00"))
    with pytest.raises(AppendOnlyError):
        GiftCardEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AppendOnlyError):
        GiftCardEntry.objects.bulk_update([entry], ["amount"])
    assert GiftCardEntry.objects.get(pk=entry.pk).amount == Decimal("10.00")


def test_database_refuses_a_negative_balance(customer, brand):
    card = gift_card_for(customer, brand, "10.00")
    card.balance = Decimal("-0.01")
    with pytest.raises(IntegrityError, match="payments_giftcard_balance_nonneg"), transaction.atomic():
        card.save()
    with pytest.raises(IntegrityError, match="payments_giftcard_balance_nonneg"), transaction.atomic():
        GiftCard.objects.filter(pk=card.pk).update(balance=Decimal("-5.00"))
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("10.00")


def test_database_refuses_a_negative_or_empty_entry(customer, brand):
    card = gift_card_for(customer, brand, "10.00")
    with pytest.raises(IntegrityError, match="payments_giftcardentry_balance_nonneg"), transaction.atomic():
        GiftCardEntry.objects.create(brand=brand, card=card, kind="adjustment", amount=Decimal("-20.00"),
                                     balance_after=Decimal("-10.00"))
    with pytest.raises(IntegrityError, match="payments_giftcardentry_amount_nonzero"), transaction.atomic():
        GiftCardEntry.objects.create(brand=brand, card=card, kind="adjustment", amount=Decimal("0.00"),
                                     balance_after=Decimal("10.00"))
    assert card.entries.count() == 1
