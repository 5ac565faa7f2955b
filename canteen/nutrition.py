"""Nutrition analysis from what members ate: kcal, protein, fat, carbs, meals and light-meal share.

Everything is summed by the database over the order lines of eaten orders: those paid, being
prepared, ready or collected (``EATEN``); pending, cancelled and fully refunded orders count for
nothing, and a partial refund takes nothing off (the portion was usually eaten). An order line
keeps the dish's nutrition per portion as it was when ordered, so a line counts ``value x
quantity``. A meal is an order; the light-meal share is the share of portions whose dish has the
``light_meal`` tag.

Windows are whole local days (Asia/Shanghai, the stores' clock) ending today: "7 days" is today
and the six days before. A per-day average divides by the days of the window, not by the days
with a meal. Every read stays in the organisation's brand (the tenant).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, DecimalField, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from ordering.models import OrderLine, OrderStatus
from stores.models import Dish, Store
from stores.selectors import STORE_TIMEZONE

from .models import Member, Organisation

EATEN = (OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY, OrderStatus.COMPLETED)
LIGHT_MEAL_TAG = "light_meal"
WINDOWS = (7, 30)
DEFAULT_WINDOW = 30
GRAMS = DecimalField(max_digits=14, decimal_places=1)
ONE = Decimal("1")
TENTH = Decimal("0.1")


def _round(value: Decimal, places: Decimal) -> Decimal:
    return value.quantize(places, rounding=ROUND_HALF_UP)


def window_days(raw, default: int = DEFAULT_WINDOW) -> int:
    """A window length from a query parameter: one of ``WINDOWS``, else ``default``."""
    try:
        days = int(raw)
    except (TypeError, ValueError):
        return default
    return days if days in WINDOWS else default


@dataclass(frozen=True)
class Window:
    first_day: date
    last_day: date
    start: datetime  # the first day's local midnight
    end: datetime  # the local midnight after the last day

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def dates(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range(self.days)]


def window(days: int, *, now: datetime | None = None) -> Window:
    """The ``days`` local days ending today."""
    today = (now or timezone.now()).astimezone(STORE_TIMEZONE).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=STORE_TIMEZONE)
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=STORE_TIMEZONE)
    return Window(first_day=first, last_day=today, start=start, end=end)


@dataclass(frozen=True)
class Intake:
    """Sums over some order lines."""

    kcal: int = 0
    protein_g: Decimal = Decimal("0.0")
    fat_g: Decimal = Decimal("0.0")
    carbs_g: Decimal = Decimal("0.0")
    portions: int = 0
    light_portions: int = 0
    meals: int = 0

    @classmethod
    def from_row(cls, row: dict) -> Intake:
        return cls(
            kcal=int(row.get("kcal") or 0),
            protein_g=_round(row.get("protein_g") or Decimal("0"), TENTH),
            fat_g=_round(row.get("fat_g") or Decimal("0"), TENTH),
            carbs_g=_round(row.get("carbs_g") or Decimal("0"), TENTH),
            portions=int(row.get("portions") or 0),
            light_portions=int(row.get("light_portions") or 0),
            meals=int(row.get("meals") or 0),
        )

    @property
    def light_share(self) -> Decimal | None:
        """Percent of the portions that were light meals (one decimal), None without portions."""
        if not self.portions:
            return None
        return _round(Decimal(self.light_portions) * 100 / Decimal(self.portions), TENTH)

    def divided(self, by: int) -> Averages:
        """Averages over ``by`` (days, or member-days): kcal whole, grams to one decimal."""
        by = Decimal(max(by, 1))
        return Averages(
            kcal=_round(Decimal(self.kcal) / by, ONE),
            protein_g=_round(self.protein_g / by, TENTH),
            fat_g=_round(self.fat_g / by, TENTH),
            carbs_g=_round(self.carbs_g / by, TENTH),
            meals=_round(Decimal(self.meals) / by, TENTH),
        )


@dataclass(frozen=True)
class Averages:
    kcal: Decimal
    protein_g: Decimal
    fat_g: Decimal
    carbs_g: Decimal
    meals: Decimal


def _light_dish():
    return Exists(Dish.tags.through.objects.filter(dish_id=OuterRef("dish_id"), tag_id=LIGHT_MEAL_TAG))


def _intake_aggregates() -> dict:
    return {
        "kcal": Sum(F("kcal") * F("quantity")),
        "protein_g": Sum(F("protein_g") * F("quantity"), output_field=GRAMS),
        "fat_g": Sum(F("fat_g") * F("quantity"), output_field=GRAMS),
        "carbs_g": Sum(F("carbs_g") * F("quantity"), output_field=GRAMS),
        "portions": Sum("quantity"),
        "light_portions": Sum("quantity", filter=Q(_light_dish())),
        "meals": Count("order_id", distinct=True),
    }


def eaten_lines(*, brand_ids, win: Window) -> QuerySet[OrderLine]:
    """Order lines of the brands' eaten orders placed within the window (no ordering: for aggregates)."""
    return OrderLine.objects.filter(
        brand_id__in=list(brand_ids), order__status__in=EATEN,
        order__created_at__gte=win.start, order__created_at__lt=win.end,
    ).order_by()


def _member_lines(member: Member, win: Window) -> QuerySet[OrderLine]:
    return eaten_lines(brand_ids=[member.organisation.brand_id], win=win).filter(order__customer_id=member.user_id)


# --- one member -----------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberNutrition:
    window: Window
    totals: Intake

    @property
    def days(self) -> int:
        return self.window.days

    @property
    def per_day(self) -> Averages:
        return self.totals.divided(self.window.days)


def member_nutrition(member: Member, *, days: int, now: datetime | None = None) -> MemberNutrition:
    """The member's totals and per-day averages over the last ``days`` days (1 query)."""
    win = window(days, now=now)
    row = _member_lines(member, win).aggregate(**_intake_aggregates())
    return MemberNutrition(window=win, totals=Intake.from_row(row))


def member_daily_kcal(member: Member, *, days: int = DEFAULT_WINDOW, now: datetime | None = None
                      ) -> list[tuple[date, int]]:
    """kcal per local day of the window, days without a meal at 0 (1 query)."""
    win = window(days, now=now)
    rows = (_member_lines(member, win)
            .annotate(day=TruncDate("order__created_at", tzinfo=STORE_TIMEZONE))
            .values("day").annotate(kcal=Sum(F("kcal") * F("quantity"))).order_by("day"))
    by_day = {row["day"]: int(row["kcal"] or 0) for row in rows}
    return [(day, by_day.get(day, 0)) for day in win.dates()]


# --- an organisation, by department ---------------------------------------------------------


@dataclass(frozen=True)
class GroupNutrition:
    """An organisation or one of its departments over a window: ``eaters`` are the members who
    ate at least one meal; the averages are per eater and day."""

    label: str
    members: int
    eaters: int
    totals: Intake
    days: int

    @property
    def per_member_day(self) -> Averages:
        return self.totals.divided(self.eaters * self.days)


@dataclass(frozen=True)
class OrganisationNutrition:
    organisation: Organisation
    window: Window
    total: GroupNutrition
    departments: list[GroupNutrition]


def organisation_nutrition(organisation: Organisation, *, days: int, no_department: str = "",
                           now: datetime | None = None) -> OrganisationNutrition:
    """Per department and for the whole organisation (3 queries). Members without a department
    are grouped under ``no_department``."""
    win = window(days, now=now)
    lines = eaten_lines(brand_ids=[organisation.brand_id], win=win).filter(
        order__customer__canteen_member__organisation_id=organisation.pk)
    aggregates = {**_intake_aggregates(), "eaters": Count("order__customer_id", distinct=True)}
    by_department = {
        row["department"]: row
        for row in lines.values(department=F("order__customer__canteen_member__department")).annotate(**aggregates)
    }
    whole = lines.aggregate(**aggregates)
    members = dict(Member.objects.filter(organisation=organisation, is_active=True).order_by()
                   .values("department").annotate(n=Count("pk")).values_list("department", "n"))
    departments = [
        GroupNutrition(label=name or no_department, members=members.get(name, 0),
                       eaters=int((by_department.get(name) or {}).get("eaters") or 0),
                       totals=Intake.from_row(by_department.get(name) or {}), days=win.days)
        for name in sorted(set(members) | set(by_department), key=lambda n: (n == "", n))
    ]
    total = GroupNutrition(label=organisation.name, members=sum(members.values()),
                           eaters=int(whole.get("eaters") or 0), totals=Intake.from_row(whole), days=win.days)
    return OrganisationNutrition(organisation=organisation, window=win, total=total, departments=departments)


# --- canteen stores, for HQ -----------------------------------------------------------------


@dataclass(frozen=True)
class StoreNutrition:
    store: Store
    totals: Intake


def canteen_stores(brand_ids) -> QuerySet[Store]:
    """Stores that serve at least one organisation (``brand_ids`` None: every brand)."""
    qs = Store.objects.filter(organisations__isnull=False).select_related("brand").distinct().order_by("brand__name",
                                                                                                      "code")
    return qs if brand_ids is None else qs.filter(brand_id__in=list(brand_ids))


def store_light_shares(brand_ids, *, days: int, now: datetime | None = None) -> tuple[Window, list[StoreNutrition]]:
    """Per canteen store of the brands: portions eaten there (by anybody), light portions and
    their share, meals (2 queries)."""
    win = window(days, now=now)
    stores = list(canteen_stores(brand_ids))
    rows = (eaten_lines(brand_ids={store.brand_id for store in stores}, win=win)
            .filter(order__store_id__in=[store.pk for store in stores])
            .values("order__store_id").annotate(**_intake_aggregates())) if stores else []
    by_store = {row["order__store_id"]: row for row in rows}
    return win, [StoreNutrition(store=store, totals=Intake.from_row(by_store.get(store.pk) or {})) for store in stores]
