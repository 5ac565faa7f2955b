"""The subsidy wallet under real concurrency (PostgreSQL, real threads, one connection each):
top-ups (one key sent twice), two monthly grant runs and meal payments all at once on one
wallet, and grant runs racing over many members."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Count, Sum

from audit.services import audit_verify
from canteen.models import EntryKind, SubsidyEntry, SubsidyWallet
from canteen.services import monthly_grants_run, subsidy_topup
from payments.errors import InsufficientBalance
from payments.models import Payment, PaymentStatus
from payments.services import payment_create
from stores.models import StoreDishOverride
from tests.canteen.factories import member_of, organisation_for
from tests.concurrency import run_together
from tests.ordering.factories import submit

MONTH = date(2026, 11, 1)
GRANT = Decimal("100.00")
TOPUP = Decimal("10.00")
MEAL = Decimal("20.00")


def assert_books(member) -> Decimal:
    """balance == the sum of the entries, never negative, and each ``balance_after`` the running sum."""
    wallet = SubsidyWallet.objects.get(pk=member.pk)
    entries = SubsidyEntry.objects.filter(wallet=wallet).order_by("pk")
    assert (entries.aggregate(s=Sum("amount"))["s"] or Decimal("0")) == wallet.balance
    running = Decimal("0.00")
    for entry in entries:
        running += entry.amount
        assert entry.balance_after == running >= 0, entry
    assert running == wallet.balance >= 0
    return wallet.balance


@pytest.mark.django_db(transaction=True)
def test_top_ups_grants_and_meals_at_once_on_one_wallet_lose_nothing(store, menu, customer, canteen_staff):
    organisation = organisation_for(store, monthly=str(GRANT), cap=str(MEAL), staff=[canteen_staff])
    member = member_of(organisation, user=customer)
    override = StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk)
    override.stock = 200
    override.save()
    orders = [submit(customer, store, menu) for _ in range(12)]  # 45.00 each, 20.00 of it from the subsidy
    # 100 granted + 5 distinct top-ups of 10 = 150 at most, for 12 meals of 20 = 240: some must be refused.

    def top_up(key):
        return lambda: subsidy_topup(actor=canteen_staff, member_id=member.pk, amount=str(TOPUP),
                                     idempotency_key=key)

    def grants():
        return monthly_grants_run(month=MONTH)

    def pay(order):
        return lambda: payment_create(actor=customer, order_id=order.pk, channel="meal_subsidy",
                                      amount=str(MEAL)).payment.pk

    workers = [top_up(f"k{i}") for i in range(4)] + [top_up("dup"), top_up("dup")] + [grants, grants]
    workers += [pay(order) for order in orders]
    results = run_together(workers, jitter=0.005)

    topups, grant_runs, payments = results[:6], results[6:8], results[8:]
    # top-ups: all answered, the key sent twice credited once
    assert all(kind == "ok" for kind, _value in topups), topups
    entries = {value[0].pk for _kind, value in topups}
    assert len(entries) == 5
    assert sorted(created for _kind, (_entry, created) in topups) == [False] + [True] * 5
    # grants: both runs finished, one granted
    assert all(kind == "ok" for kind, _value in grant_runs), grant_runs
    assert sorted(value["granted"] for _kind, value in grant_runs) == [0, 1]
    assert SubsidyEntry.objects.filter(wallet_id=member.pk, kind=EntryKind.GRANT, month=MONTH).count() == 1
    # meals: each either paid with exactly one ledger entry, or refused for the balance with none
    paid = [value for kind, value in payments if kind == "ok"]
    refused = [value for kind, value in payments if kind == "error"]
    assert paid and refused and len(paid) + len(refused) == 12
    assert len(paid) * MEAL <= GRANT + 5 * TOPUP
    assert all(isinstance(error, InsufficientBalance) for error in refused), refused
    succeeded = Payment.objects.filter(channel="meal_subsidy", status=PaymentStatus.SUCCEEDED)
    assert set(succeeded.values_list("pk", flat=True)) == set(paid)
    assert not Payment.objects.filter(channel="meal_subsidy").exclude(pk__in=paid).exists()
    per_payment = (SubsidyEntry.objects.filter(kind=EntryKind.PAYMENT).values("payment_id")
                   .annotate(n=Count("pk"), total=Sum("amount")))
    assert {row["payment_id"]: (row["n"], row["total"]) for row in per_payment} == dict.fromkeys(paid, (1, -MEAL))
    # nothing lost, nothing made up
    balance = assert_books(member)
    assert balance == GRANT + 5 * TOPUP - len(paid) * MEAL
    kinds = dict(SubsidyEntry.objects.filter(wallet_id=member.pk).values_list("kind").annotate(n=Count("pk")))
    assert kinds == {EntryKind.TOPUP: 5, EntryKind.GRANT: 1, EntryKind.PAYMENT: len(paid)}
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_grant_runs_racing_over_many_members_grant_each_once(store):
    organisation = organisation_for(store, monthly="300.00")
    members = [member_of(organisation, number=f"S{i:03d}", phone=f"1560000{i:04d}") for i in range(30)]

    results = run_together([lambda: monthly_grants_run(month=MONTH) for _ in range(3)])

    assert all(kind == "ok" for kind, _value in results), results
    assert sum(value["granted"] for _kind, value in results) == 30
    for member in members:
        assert assert_books(member) == Decimal("300.00")
    grants = SubsidyEntry.objects.filter(kind=EntryKind.GRANT, month=MONTH)
    assert grants.count() == 30 and grants.values("wallet_id").distinct().count() == 30
    assert audit_verify().ok
