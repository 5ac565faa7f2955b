"""canteen's part of ``manage.py seed_demo``: 星河大学 (a university eating at the campus canteen
brand's stores) with 500 members, each with an account and a subsidy wallet holding this month's
grant; the demo canteen staff login manages it and the demo customer is a member too, so that a
demo login can pay part of a meal with its subsidy.

Idempotent like the rest of seed_demo: the organisation is keyed by its code, members by their
number, accounts by their phone; whatever exists is left alone (a member deactivated or an
organisation edited in the demo stays so), and the stores and staff of the organisation are only
set when it is created. Fast enough for every ``make run``: the members, their accounts, wallets
and first grants are bulk inserted (a few hundred milliseconds on SQLite).

Money still goes through the ledger's rules: every new wallet gets exactly one grant entry for
the current month (the one ``monthly_grants_run`` would make, which therefore skips it), its
``balance`` is that entry's ``balance_after``, and one audit event records the grants.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.dispatch import receiver
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from accounts.models import Role
from audit.services import audit_record
from stores import demo_data
from stores.demo import demo_seeded
from stores.models import Allergen, Brand, Store

from .models import (
    DietaryNeed,
    EntryKind,
    Member,
    MonthEnd,
    Organisation,
    OrganisationKind,
    SubsidyEntry,
    SubsidyWallet,
)
from .services import month_of

MEMBER_COUNT = 500
DEMO_ORGANISATION = {
    "code": "xinghe-univ",
    "name": "星河大学",
    "kind": OrganisationKind.SCHOOL,
    "monthly_amount": Decimal("300.00"),
    "per_meal_cap": Decimal("15.00"),
    "month_end": MonthEnd.EXPIRE,
}
# The demo customer's membership: a student number outside the generated ones (2022xxxx..2025xxxx,
# sequence 0001..0500), so that it never collides with them.
DEMO_CUSTOMER_NUMBER = "20250000"
DEMO_CUSTOMER_DEPARTMENT = "计算机科学与技术学院"
# Member accounts: 157 0571 nnnn (Hangzhou), apart from the demo logins (138/139 0000 00nn).
MEMBER_PHONE_PREFIX = "1570571"

# Faculties with their share of the students; the staff (教职工) eat there too.
DEPARTMENTS = (
    ("计算机科学与技术学院", 14),
    ("电子信息工程学院", 12),
    ("机械工程学院", 11),
    ("经济管理学院", 13),
    ("外国语学院", 8),
    ("医学院", 10),
    ("建筑学院", 7),
    ("化学与材料学院", 9),
    ("人文学院", 8),
    ("后勤保障处", 4),
)
STAFF_DEPARTMENT = "后勤保障处"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMMON_SURNAMES = "王李张刘陈杨黄赵吴周"  # about a third of all people
GIVEN_CHARS = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉萍红鹏辉斌宇浩凯健俊帆帅旭宁欣怡佳琪梦雪婷颖"
    "思雨晨阳博文子轩涵睿泽宇诗涵可馨嘉怡一诺梓萱浩然俊杰志远天佑雅琳晓东建国海燕秀兰振华晓明丹丹"
)
# Share of members with each need, and with an allergy (one or two allergens).
NEED_SHARES = ((DietaryNeed.VEGETARIAN, 0.07), (DietaryNeed.HALAL, 0.05), (DietaryNeed.LOW_SUGAR, 0.06),
               (DietaryNeed.LOW_SALT, 0.04))
ALLERGY_SHARE = 0.10
COMMON_ALLERGENS = ("peanuts", "crustaceans", "milk", "eggs", "tree_nuts", "fish", "soy", "sesame", "gluten")


@dataclass(frozen=True)
class MemberPlan:
    number: str
    name: str
    phone: str
    department: str
    dietary_needs: tuple[str, ...]
    allergies: tuple[str, ...]


def _name(rng: random.Random) -> str:
    surname = rng.choice(COMMON_SURNAMES) if rng.random() < 0.35 else rng.choice(SURNAMES)
    length = 1 if rng.random() < 0.3 else 2
    return surname + "".join(rng.choice(GIVEN_CHARS) for _ in range(length))


def member_plans(count: int = MEMBER_COUNT) -> list[MemberPlan]:
    """The demo members: a member's data depends on its position only (one fixed seed)."""
    rng = random.Random(f"{demo_data.SEED}:canteen")  # noqa: S311 - demo data, not secrets
    names = [name for name, _weight in DEPARTMENTS]
    weights = [weight for _name, weight in DEPARTMENTS]
    plans = []
    for i in range(1, count + 1):
        department = rng.choices(names, weights)[0]
        # A staff (教工) number, or a student's: entry year and sequence.
        number = f"JG{i:04d}" if department == STAFF_DEPARTMENT else f"{rng.randint(2022, 2025)}{i:04d}"
        needs = tuple(sorted(need for need, share in NEED_SHARES if rng.random() < share))
        allergies: tuple[str, ...] = ()
        if rng.random() < ALLERGY_SHARE:
            allergies = tuple(sorted(rng.sample(COMMON_ALLERGENS, 1 if rng.random() < 0.8 else 2)))
        plans.append(MemberPlan(number=number, name=_name(rng), phone=f"{MEMBER_PHONE_PREFIX}{i:04d}",
                                department=department, dietary_needs=needs, allergies=allergies))
    return plans


@receiver(demo_seeded, dispatch_uid="canteen.demo.organisation")
def seed_demo_organisation(sender, count, **kwargs):
    brand = Brand.objects.filter(code=demo_data.CANTEEN.code).first()
    if brand is None:
        return
    organisation = _organisation(brand, count)
    User = get_user_model()
    plans = member_plans()
    customer_phones = [spec.phone for spec in demo_data.DEMO_USERS if spec.is_customer]
    customer = User.objects.filter(phone__in=customer_phones).order_by("phone").first()
    if customer is not None:
        plans.append(MemberPlan(number=DEMO_CUSTOMER_NUMBER, name=customer.name or "演示顾客",
                                phone=customer.phone, department=DEMO_CUSTOMER_DEPARTMENT,
                                dietary_needs=(), allergies=()))
    _members(organisation, plans, count)


def _organisation(brand: Brand, count) -> Organisation:
    organisation = Organisation.objects.filter(code=DEMO_ORGANISATION["code"]).first()
    if organisation is not None:
        return organisation  # edited in the demo maybe: left as it is
    organisation = Organisation.objects.create(brand=brand, **DEMO_ORGANISATION)
    codes = [code for code, *_rest in demo_data.CANTEEN_STORES]
    organisation.stores.set(Store.objects.filter(brand=brand, code__in=codes))
    staff_phones = [spec.phone for spec in demo_data.DEMO_USERS
                    if spec.role == Role.CANTEEN_STAFF and spec.brand == brand.code]
    organisation.staff.set(get_user_model().objects.filter(phone__in=staff_phones, role=Role.CANTEEN_STAFF))
    count("canteen organisations", 1)
    return organisation


def _members(organisation: Organisation, plans: list[MemberPlan], count) -> None:
    User = get_user_model()
    known = set(Member.objects.filter(organisation=organisation).values_list("number", flat=True))
    plans = [p for p in plans if p.number not in known]
    if not plans:
        return
    users = {u.phone: u for u in User.objects.filter(phone__in=[p.phone for p in plans])}
    taken = set(Member.objects.filter(user__in=users.values()).values_list("user__phone", flat=True))
    plans = [p for p in plans if p.phone not in taken]  # an account is a member of one organisation
    new_users = [
        User(phone=p.phone, name=p.name, role=Role.CUSTOMER, password=make_password(None))
        for p in plans if p.phone not in users
    ]
    if new_users:
        User.objects.bulk_create(new_users)  # with their ids (PostgreSQL, SQLite >= 3.35)
        users.update({u.phone: u for u in new_users})
        count("canteen member accounts", len(new_users))
    now = timezone.now()
    members = [
        Member(organisation=organisation, user=users[p.phone], number=p.number, name=p.name,
               department=p.department, dietary_needs=list(p.dietary_needs), joined_at=now)
        for p in plans
    ]
    bulk_create_with_history(members, Member)
    allergens = set(Allergen.objects.values_list("pk", flat=True))
    Member.allergies.through.objects.bulk_create([
        Member.allergies.through(member_id=member.pk, allergen_id=code)
        for p, member in zip(plans, members, strict=True)
        for code in p.allergies if code in allergens
    ])
    count("canteen members", len(members))
    _wallets_with_grant(organisation, members, now=now, count=count)


def _wallets_with_grant(organisation: Organisation, members: list[Member], *, now, count) -> None:
    """A wallet per new member holding this month's grant as its one ledger entry (so balance ==
    the sum of the entries, and ``monthly_grants_run`` finds the month granted already)."""
    amount = organisation.monthly_amount
    grant = organisation.is_active and amount > 0
    balance = amount if grant else Decimal("0.00")
    SubsidyWallet.objects.bulk_create([
        SubsidyWallet(member=member, organisation=organisation, balance=balance, updated_at=now)
        for member in members
    ])
    count("subsidy wallets", len(members))
    if not grant:
        return
    month = month_of(timezone.localdate(now))
    SubsidyEntry.objects.bulk_create([
        SubsidyEntry(wallet_id=member.pk, organisation=organisation, kind=EntryKind.GRANT, amount=amount,
                     balance_after=amount, month=month, note=f"{month:%Y-%m}", created_at=now)
        for member in members
    ])
    count("subsidy grants", len(members))
    audit_record(action="subsidy.granted", obj=organisation, brand_id=organisation.brand_id,
                 amount=amount * len(members), reason="manage.py seed_demo",
                 data={"month": f"{month:%Y-%m}", "members": len(members), "each": str(amount)})
