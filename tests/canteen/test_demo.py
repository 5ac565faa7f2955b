"""The canteen's part of seed_demo: 星河大学 with 500 members whose wallets hold this month's grant
(balance == ledger), the demo canteen staff managing it, the demo customer a member; run again,
nothing is created."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent
from canteen.demo import DEMO_CUSTOMER_NUMBER, MEMBER_COUNT, member_plans, seed_demo_organisation
from canteen.models import EntryKind, Member, MonthEnd, Organisation, OrganisationKind, SubsidyEntry, SubsidyWallet
from canteen.selectors import member_serves
from canteen.services import month_of, monthly_grants_run
from stores.demo_data import CANTEEN_STORES

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stores=1, force=True, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count()
            for model in (Organisation, Member, User, SubsidyWallet, SubsidyEntry, AuditEvent,
                          Member.history.model, Organisation.history.model, Member.allergies.through)}


def test_seed_creates_the_university_with_500_members_and_their_grants():
    output = seed()

    organisation = Organisation.objects.get(code="xinghe-univ")
    assert (organisation.name, organisation.brand.code, organisation.kind) == ("星河大学", "campus",
                                                                                 OrganisationKind.SCHOOL)
    assert (organisation.monthly_amount, organisation.per_meal_cap, organisation.month_end) == (
        Decimal("300.00"), Decimal("15.00"), MonthEnd.EXPIRE)
    assert set(organisation.stores.values_list("code", flat=True)) == {code for code, *_ in CANTEEN_STORES}
    assert list(organisation.staff.values_list("phone", flat=True)) == ["13900000004"]
    members = Member.objects.filter(organisation=organisation)
    assert members.count() == MEMBER_COUNT + 1  # and the demo customer
    assert "1 canteen organisations" in output and f"{MEMBER_COUNT + 1} canteen members" in output
    # every wallet: this month's grant as its one entry, balance == ledger sum
    wallets = SubsidyWallet.objects.filter(organisation=organisation).annotate(
        ledger=Sum("entries__amount"), n=Count("entries"))
    assert wallets.count() == MEMBER_COUNT + 1
    assert {(w.balance, w.ledger, w.n) for w in wallets} == {(Decimal("300.00"), Decimal("300.00"), 1)}
    month = month_of(timezone.localdate())
    grants = SubsidyEntry.objects.filter(organisation=organisation, kind=EntryKind.GRANT, month=month)
    assert grants.count() == MEMBER_COUNT + 1
    assert not grants.exclude(balance_after=Decimal("300.00")).exists()
    assert AuditEvent.objects.filter(action="subsidy.granted", amount=Decimal("300.00") * (MEMBER_COUNT + 1)).exists()
    # realistic people: numbers unique, 8-10 faculties, some with dietary needs and allergies
    assert members.values("number").distinct().count() == MEMBER_COUNT + 1
    assert 8 <= members.values("department").distinct().count() <= 10
    for need in ("vegetarian", "halal", "low_sugar"):
        assert members.filter(dietary_needs__contains=[need]).count() >= 5, need
    assert members.filter(allergies__isnull=False).distinct().count() >= 10
    names = members.exclude(number=DEMO_CUSTOMER_NUMBER).values_list("name", flat=True)
    assert all(2 <= len(name) <= 3 for name in names)
    assert Member.history.filter(history_type="+").count() == MEMBER_COUNT + 1
    users = User.objects.filter(canteen_member__organisation=organisation)
    assert users.count() == MEMBER_COUNT + 1
    assert not users.filter(is_staff=True).exists() and not any(u.has_usable_password() for u in users)
    # the month is granted already: the monthly task makes nothing now
    assert monthly_grants_run() == {"granted": 0, "expired": 0}


def test_the_demo_customer_is_a_member_who_can_pay_at_the_campus_canteens():
    seed()

    member = Member.objects.select_related("wallet", "organisation").get(user__phone="13800000001")
    assert member.number == DEMO_CUSTOMER_NUMBER and member.name == "演示顾客"
    assert member.wallet.balance == Decimal("300.00")
    store = member.organisation.stores.get(code="CAMPUS01")
    assert member_serves(member, store)


def test_a_second_run_creates_nothing_and_keeps_demo_edits():
    seed()
    member = Member.objects.get(number=member_plans()[0].number)
    member.is_active = False
    member.save()
    organisation = Organisation.objects.get(code="xinghe-univ")
    organisation.staff.clear()
    before = counts()

    output = seed()

    assert counts() == before
    assert "nothing created" in output
    assert not Member.objects.get(pk=member.pk).is_active
    assert not organisation.staff.exists()


def test_the_receiver_reports_what_it_made_and_fills_in_only_what_is_missing():
    seed()
    made: dict[str, int] = {}

    def count(what, n):
        made[what] = made.get(what, 0) + n

    seed_demo_organisation(sender=None, count=count)
    assert made == {}

    plans = member_plans()
    assert plans == member_plans()  # deterministic
    assert len({p.phone for p in plans}) == len(plans) == MEMBER_COUNT
