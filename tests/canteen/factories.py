"""Builders for canteen tests: an organisation served by the canteen store, members with wallets."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import Role
from canteen.models import Organisation
from canteen.services import member_create
from tests.accounts.factories import StaffFactory, UserFactory
from tests.stores.factories import StaffAssignmentFactory


def organisation_for(store, *, code="acme-corp", monthly="300.00", cap="20.00", month_end="expire", staff=()):
    organisation = Organisation.objects.create(brand=store.brand, code=code, name=f"{code} org",
                                               monthly_amount=Decimal(monthly), per_meal_cap=Decimal(cap),
                                               month_end=month_end)
    organisation.stores.add(store)
    if staff:
        organisation.staff.add(*staff)
    return organisation


def member_of(organisation, *, number="E001", phone=None, name="张三", department="研发部", user=None, **kwargs):
    user = user or UserFactory(phone=phone or f"1390{abs(hash((organisation.pk, number))) % 10**7:07d}")
    return member_create(organisation=organisation, user=user, number=number, name=name, department=department,
                         **kwargs)


def canteen_staff_of(store, *, phone="13700000077"):
    user = StaffFactory(phone=phone, role=Role.CANTEEN_STAFF)
    StaffAssignmentFactory(user=user, brand=store.brand, stores=[store])
    return user
