"""The subsidy wallet: top-ups (idempotent), batches (all or nothing, once), monthly grants (once
per member and month), and paying part of an order from it (split payment) and getting it back."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from canteen.errors import CanteenConflict, CanteenInvalid, CanteenNotFound
from canteen.ledger import wallet_lock
from canteen.models import EntryKind, SubsidyEntry, SubsidyWallet, TopupBatch
from canteen.selectors import ledger_sum
from canteen.services import batch_apply, batch_preview, batch_read, monthly_grants_run, subsidy_topup
from ordering.models import OrderStatus
from payments.errors import PaymentNotAllowed
from payments.models import PaymentStatus
from payments.services import payment_split_create
from tests.canteen.factories import member_of, organisation_for
from tests.ordering.factories import gift_card_for, submit

pytestmark = pytest.mark.django_db


def _balance(member) -> Decimal:
    return SubsidyWallet.objects.get(pk=member.pk).balance


def _books_balance(member):
    assert ledger_sum(member) == _balance(member)


def test_a_top_up_is_credited_once_per_key(member, canteen_staff):
    entry, created = subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="50", note="月初",
                                   idempotency_key="k1")
    again, created_again = subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="50.00", note="月初",
                                         idempotency_key="k1")
    assert created and not created_again and again.pk == entry.pk
    assert _balance(member) == Decimal("50.00")
    with pytest.raises(CanteenConflict):
        subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="60", idempotency_key="k1")
    _books_balance(member)


@pytest.mark.parametrize("amount", ["-5", "0", "abc", "5000.01", "1e9", "NaN", "1.005", ""])
def test_bad_amounts_are_refused(member, canteen_staff, amount):
    with pytest.raises(CanteenInvalid):
        subsidy_topup(actor=canteen_staff, member_id=member.pk, amount=amount)
    assert not SubsidyEntry.objects.exists()


def test_another_organisations_member_is_unknown(store, member, canteen_staff):
    other = organisation_for(store, code="other-org")
    stranger = member_of(other, number="X1")
    with pytest.raises(CanteenNotFound):
        subsidy_topup(actor=canteen_staff, member_id=stranger.pk, amount="10")


def _csv(text: str, name="batch.csv", encoding="utf-8"):
    return batch_read(SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv"))


def test_a_batch_with_one_bad_row_is_refused_whole(organisation, member, canteen_staff):
    member_of(organisation, number="E002", name="李四")
    name, content = _csv("number,amount,note\nE001,100,ok\nE404,20,?\nE002,abc,\nE001,5,again\n")
    batch = batch_preview(actor=canteen_staff, organisation_id=organisation.pk, file_name=name, content=content)
    errors = [row["error"] != "" for row in batch.rows]
    assert errors == [False, True, True, True] and batch.error_count == 3
    with pytest.raises(CanteenConflict):
        batch_apply(actor=canteen_staff, batch_id=batch.pk)
    assert not SubsidyEntry.objects.exists()


def test_a_good_batch_applied_twice_credits_once(organisation, member, canteen_staff):
    second = member_of(organisation, number="E002", name="李四")
    name, content = _csv("工号,金额,备注\nE001,100,九月\nE002,50.5,九月\n", encoding="gb18030")
    batch = batch_preview(actor=canteen_staff, organisation_id=organisation.pk, file_name=name, content=content)
    assert batch.error_count == 0 and batch.total == Decimal("150.50")
    applied, now = batch_apply(actor=canteen_staff, batch_id=batch.pk)
    assert now and applied.status == TopupBatch.Status.APPLIED
    _applied, again = batch_apply(actor=canteen_staff, batch_id=batch.pk)
    assert not again
    twin = batch_preview(actor=canteen_staff, organisation_id=organisation.pk, file_name=name, content=content)
    with pytest.raises(CanteenConflict):
        batch_apply(actor=canteen_staff, batch_id=twin.pk)
    assert (_balance(member), _balance(second)) == (Decimal("100.00"), Decimal("50.50"))


def test_the_grant_run_twice_grants_once_and_expires_what_was_left(organisation, member):
    assert monthly_grants_run(month=date(2026, 11, 1)) == {"granted": 1, "expired": 0}
    assert monthly_grants_run(month=date(2026, 11, 1)) == {"granted": 0, "expired": 0}
    assert _balance(member) == Decimal("300.00")
    assert monthly_grants_run(month=date(2026, 12, 1)) == {"granted": 1, "expired": 1}
    assert monthly_grants_run(month=date(2026, 12, 1)) == {"granted": 0, "expired": 0}
    assert _balance(member) == Decimal("300.00")
    kinds = list(SubsidyEntry.objects.filter(wallet_id=member.pk).order_by("pk").values_list("kind", "amount"))
    assert kinds == [(EntryKind.GRANT, Decimal("300.00")), (EntryKind.EXPIRY, Decimal("-300.00")),
                     (EntryKind.GRANT, Decimal("300.00"))]
    _books_balance(member)


def test_carry_over_keeps_what_was_left(store):
    organisation = organisation_for(store, code="carry", month_end="carry_over", monthly="100.00")
    member = member_of(organisation, number="C1")
    monthly_grants_run(month=date(2026, 11, 1))
    monthly_grants_run(month=date(2026, 12, 1))
    assert _balance(member) == Decimal("200.00")


def test_split_payment_subsidy_up_to_the_cap_then_gift_card(member, customer, store, menu, canteen_staff):
    subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="100")
    order = submit(customer, store, menu)  # 45.00
    card = gift_card_for(customer, store.brand, "100.00")
    with pytest.raises(PaymentNotAllowed):  # above the 20.00 cap per meal: nothing moves
        payment_split_create(actor=customer, order_id=order.pk, first_channel="meal_subsidy", first_amount="25",
                             channel="gift_card", params={"gift_card": card.pk})
    results = payment_split_create(actor=customer, order_id=order.pk, first_channel="meal_subsidy",
                                   first_amount="20", channel="gift_card", params={"gift_card": card.pk})
    order.refresh_from_db()
    card.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert [r.payment.amount for r in results] == [Decimal("20.00"), Decimal("25.00")]
    assert _balance(member) == Decimal("80.00") and card.balance == Decimal("75.00")
    _books_balance(member)


def test_a_refused_rest_leaves_the_subsidy_untouched(member, customer, store, menu, canteen_staff):
    subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="100")
    order = submit(customer, store, menu)
    card = gift_card_for(customer, store.brand, "10.00")  # not enough for the 25.00 left
    with pytest.raises(Exception):  # noqa: B017 - InsufficientBalance
        payment_split_create(actor=customer, order_id=order.pk, first_channel="meal_subsidy", first_amount="20",
                             channel="gift_card", params={"gift_card": card.pk})
    assert _balance(member) == Decimal("100.00")
    assert not order.payments.exists()


def test_an_order_that_expires_half_paid_gives_the_subsidy_back(member, customer, store, menu, canteen_staff,
                                                                django_capture_on_commit_callbacks):
    from ordering.services import orders_expire_due
    subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="100")
    order = submit(customer, store, menu)
    from payments.services import payment_create
    payment_create(actor=customer, order_id=order.pk, channel="meal_subsidy", amount="20")
    assert _balance(member) == Decimal("80.00")
    with django_capture_on_commit_callbacks(execute=True):
        assert orders_expire_due(now=order.expires_at) == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert _balance(member) == Decimal("100.00")
    payment = order.payments.get()
    assert payment.status == PaymentStatus.REFUNDED
    _books_balance(member)
    wallet_lock  # noqa: B018 - imported for the lock order in other tests
