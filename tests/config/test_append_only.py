"""config.append_only: ledger rows are added, never changed or removed through the ORM."""

from __future__ import annotations

from decimal import Decimal

import pytest

from config.append_only import AppendOnlyError, AppendOnlyModel
from payments.models import GiftCardEntry
from tests.ordering.factories import gift_card_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(customer, brand):
    return gift_card_for(customer, brand, "10.00").entries.get()


def test_ledger_models_are_append_only():
    assert issubclass(GiftCardEntry, AppendOnlyModel)


def test_rows_can_be_added(entry):
    added = GiftCardEntry.objects.create(brand=entry.brand, card=entry.card, kind="adjustment",
                                         amount=Decimal("-1.00"), balance_after=Decimal("9.00"))
    assert GiftCardEntry.objects.filter(card=entry.card).count() == 2
    assert added.pk > entry.pk


@pytest.mark.parametrize(
    "change",
    [
        lambda e: e.save(),
        lambda e: e.save(update_fields=["note"]),
        lambda e: e.delete(),
        lambda e: GiftCardEntry.objects.filter(pk=e.pk).update(note="x"),
        lambda e: GiftCardEntry.objects.filter(pk=e.pk).delete(),
        lambda e: GiftCardEntry.objects.all().delete(),
        lambda e: GiftCardEntry.objects.bulk_update([e], ["note"]),
        lambda e: GiftCardEntry.objects.update_or_create(pk=e.pk, defaults={"note": "x"}),
    ],
    ids=["save", "save-fields", "delete", "qs-update", "qs-delete", "delete-all", "bulk-update", "update-or-create"],
)
def test_rows_cannot_be_changed_or_removed(change, entry):
    entry.note = "changed"
    with pytest.raises(AppendOnlyError, match="GiftCardEntry rows cannot be"):
        change(entry)
    saved = GiftCardEntry.objects.get(pk=entry.pk)
    assert saved.note == "" and saved.amount == Decimal("10.00")
