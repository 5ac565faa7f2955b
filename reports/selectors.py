"""Reads for the HQ analytics pages: aggregates computed in the database from the daily rollups.

Every function takes the store ids to count (already scoped by ``reports.access``) and the days
(inclusive). None reads the orders themselves; ``reports.services.rollups_refresh`` keeps the
rollups current. Reads go to the ``reports`` database alias when one is configured
(``config.db_routers.ReportsReplicaRouter``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from config.money import money
from refunds.models import RefundReason
from stores.models import Dish, MenuCategory, Store

from .forms import ReportFilter
from .models import (
    BrandDishDaySales,
    CustomerDaySales,
    DishDaySales,
    RollupRefresh,
    StoreDayRefunds,
    StoreDaySales,
    StoreHourSales,
)


@dataclass(frozen=True, slots=True)
class DishDayQuantity:
    store_id: int
    dish_code: str
    day: date
    quantity: int  # portions sold in paid orders that were not refunded
    refunded_quantity: int


def dish_sales_daily(store_ids: Iterable[int], start: date, end: date) -> list[DishDayQuantity]:
    """Portions per store, dish (by code) and business day, ``start``..``end`` inclusive.

    Only days with sales have a row: a missing (store, dish, day) means 0 sold. Ordered by
    store, dish code and day.
    """
    rows = (
        DishDaySales.objects.filter(store_id__in=list(store_ids), day__gte=start, day__lte=end)
        .order_by("store_id", "dish_code", "day")
        .values_list("store_id", "dish_code", "day", "quantity", "refunded_quantity")
    )
    return [DishDayQuantity(*row) for row in rows]


# --- The sales dashboard ---------------------------------------------------------------------


def _ratio(part: int | Decimal, whole: int | Decimal) -> Decimal | None:
    """``part / whole`` as a percentage with one place (``None`` when ``whole`` is 0)."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class SalesFigures:
    """Orders and money of a day, a store or a store on a day.

    ``orders`` counts paid orders (refunded ones too), ``revenue`` is what they paid,
    ``refunded_amount`` what was paid back (full and partial refunds, see reports.models);
    ``refunded_orders`` the orders refunded in full. Net revenue is revenue minus refunds; the
    average ticket is net revenue per order kept (not refunded in full); the refund rate is the
    refunded amount as a share of the revenue.
    """

    orders: int
    revenue: Decimal
    refunded_orders: int
    refunded_amount: Decimal
    cancelled_orders: int

    @property
    def net_revenue(self) -> Decimal:
        return money(self.revenue - self.refunded_amount)

    @property
    def kept_orders(self) -> int:
        return self.orders - self.refunded_orders

    @property
    def average_ticket(self) -> Decimal | None:
        return money(self.net_revenue / self.kept_orders) if self.kept_orders else None

    @property
    def refund_rate(self) -> Decimal | None:
        return _ratio(self.refunded_amount, self.revenue)


_SUMS = {
    "s_orders": Sum("orders"),
    "s_revenue": Sum("revenue"),
    "s_refunded_orders": Sum("refunded_orders"),
    "s_refunded_amount": Sum("refunded_amount"),
    "s_cancelled": Sum("cancelled_orders"),
}


def _figures(row: dict) -> SalesFigures:
    return SalesFigures(
        orders=row["s_orders"] or 0,
        revenue=money(row["s_revenue"] or 0),
        refunded_orders=row["s_refunded_orders"] or 0,
        refunded_amount=money(row["s_refunded_amount"] or 0),
        cancelled_orders=row["s_cancelled"] or 0,
    )


def _in_filter(model, flt: ReportFilter) -> QuerySet:
    """The rollup rows of the filter's brand, days and stores (no store condition for the whole brand)."""
    qs = model.objects.filter(brand_id=flt.brand.pk, day__gte=flt.start, day__lte=flt.end).order_by()
    return qs if flt.whole_brand else qs.filter(store_id__in=sorted(flt.store_ids))


def sales_total(flt: ReportFilter) -> SalesFigures:
    return _figures(_in_filter(StoreDaySales, flt).aggregate(**_SUMS))


@dataclass(frozen=True, slots=True)
class DayRow:
    day: date
    figures: SalesFigures


def sales_by_day(flt: ReportFilter) -> list[DayRow]:
    """Every day of the range (days without orders too), oldest first."""
    rows = {
        row["day"]: _figures(row)
        for row in _in_filter(StoreDaySales, flt).values("day").annotate(**_SUMS)
    }
    empty = SalesFigures(0, money(0), 0, money(0), 0)
    return [
        DayRow(day, rows.get(day, empty))
        for day in (flt.start + timedelta(days=offset) for offset in range(flt.days))
    ]


@dataclass(frozen=True, slots=True)
class StoreRow:
    rank: int
    store_id: int
    code: str
    name: str
    city: str
    figures: SalesFigures


def store_ranking(flt: ReportFilter) -> list[StoreRow]:
    """Stores by net revenue (highest first), then by code; stores without orders come last."""
    sums = {
        row["store_id"]: _figures(row)
        for row in _in_filter(StoreDaySales, flt).values("store_id").annotate(**_SUMS)
    }
    empty = SalesFigures(0, money(0), 0, money(0), 0)
    stores = Store.objects.filter(pk__in=flt.store_ids).order_by().values_list("id", "code", "name", "city")
    ranked = sorted(
        ((store_id, code, name, city, sums.get(store_id, empty)) for store_id, code, name, city in stores),
        key=lambda item: (-item[4].net_revenue, -item[4].orders, item[1]),
    )
    return [StoreRow(rank, *item) for rank, item in enumerate(ranked, start=1)]


@dataclass(frozen=True, slots=True)
class StoreDayRow:
    day: date
    store_code: str
    store_name: str
    figures: SalesFigures


def sales_by_store_day(flt: ReportFilter, *, limit: int | None = None) -> tuple[list[StoreDayRow], int]:
    """Store-day rows that had orders (day, then store code) and how many there are in all."""
    qs = _in_filter(StoreDaySales, flt)
    total = qs.count()
    rows = qs.order_by("day", "store__code").values(
        "day", "store__code", "store__name", s_orders=F("orders"), s_revenue=F("revenue"),
        s_refunded_orders=F("refunded_orders"), s_refunded_amount=F("refunded_amount"),
        s_cancelled=F("cancelled_orders"),
    )
    if limit is not None:
        rows = rows[:limit]
    return [StoreDayRow(row["day"], row["store__code"], row["store__name"], _figures(row)) for row in rows], total


@dataclass(frozen=True, slots=True)
class RefundReasonRow:
    reason_code: str  # a RefundReason; "" for orders refunded in full without a refund request
    reason: str
    refunds: int  # refund requests (or such orders)
    amount: Decimal  # what they paid back
    rate: Decimal | None  # percent of the paid amount (revenue) of the filter
    share: Decimal | None  # percent of everything refunded in the filter


def refunds_by_reason(flt: ReportFilter, *, total: SalesFigures | None = None) -> list[RefundReasonRow]:
    """Refunds by the reason given, biggest amount first (``total``: ``sales_total(flt)`` if known).

    From the refund requests that count (approved, processing, succeeded or failed: see
    reports.models), on their order's business day and store, so the same days, stores and
    visibility as the sales; the amounts add up to ``total.refunded_amount``. Orders refunded in
    full without a refund request come last, as "no reason recorded".
    """
    total = total if total is not None else sales_total(flt)
    rows = _in_filter(StoreDayRefunds, flt).values("reason_code").annotate(n=Sum("refunds"), s=Sum("amount"))
    labels = dict(RefundReason.choices)
    order = {code: index for index, code in enumerate(RefundReason.values)}
    found = sorted(
        ((row["reason_code"], row["n"] or 0, money(row["s"] or 0)) for row in rows),
        key=lambda item: (item[0] == "", -item[2], -item[1], order.get(item[0], len(order)), item[0]),
    )
    refunded = sum((amount for _code, _n, amount in found), Decimal("0.00"))
    return [
        RefundReasonRow(
            code, labels.get(code, code) if code else _("— (no reason recorded)"), n, amount,
            _ratio(amount, total.revenue), _ratio(amount, refunded),
        )
        for code, n, amount in found
        if n or amount
    ]


@dataclass(frozen=True, slots=True)
class DishSums:
    """Sums of one dish over the filter (one database row per dish code and category)."""

    dish_code: str
    category_id: int | None
    quantity: int
    revenue: Decimal
    orders: int
    refunded_quantity: int


def dish_sums(flt: ReportFilter) -> list[DishSums]:
    """Per dish code (and category) sums over the filter, in one aggregate query.

    The whole brand reads the brand-wide rollup (a row per dish and day); a choice of stores the
    per-store rollup through its covering index. Hot dishes and favourite categories both come
    from these few rows (one per dish), so the page aggregates the dish rollup once.
    """
    model = BrandDishDaySales if flt.whole_brand else DishDaySales
    base = model.objects.filter(brand_id=flt.brand.pk, day__gte=flt.start, day__lte=flt.end).order_by()
    if not flt.whole_brand:
        base = base.filter(store_id__in=sorted(flt.store_ids))
    rows = base.values("dish_code", "category_id").annotate(
        q=Sum("quantity"), r=Sum("revenue"), o=Sum("orders"), rq=Sum("refunded_quantity")
    ).values_list("dish_code", "category_id", "q", "r", "o", "rq")
    return [DishSums(code, category, q or 0, money(r or 0), o or 0, rq or 0) for code, category, q, r, o, rq in rows]


@dataclass(frozen=True, slots=True)
class DishRow:
    rank: int
    dish_code: str
    name: str
    quantity: int
    revenue: Decimal
    orders: int
    refunded_quantity: int
    share: Decimal | None  # percent of all portions sold


def _dish_names(flt: ReportFilter, codes: list[str]) -> dict[str, str]:
    """Names of dish codes as the dishes are named now; a dish deleted since keeps a name from its lines."""
    english = _english()
    names = {
        code: (en if english and en else zh)
        for code, zh, en in Dish.objects.filter(brand_id=flt.brand.pk, code__in=codes)
        .values_list("code", "name_zh", "name_en")
    }
    missing = [code for code in codes if code not in names]
    if missing:
        for code, zh, en in (
            DishDaySales.objects.filter(brand_id=flt.brand.pk, dish_code__in=missing).order_by()
            .values("dish_code").annotate(zh=Max("name_zh"), en=Max("name_en")).values_list("dish_code", "zh", "en")
        ):
            names[code] = en if english and en else zh
    return names


def hot_dishes(flt: ReportFilter, *, limit: int | None = 10, sums: list[DishSums] | None = None) -> list[DishRow]:
    """Dishes by portions sold (then revenue, then code), with their share of all portions.

    ``sums``: ``dish_sums(flt)`` when the caller has it already.
    """
    per_dish: dict[str, list] = {}
    for row in sums if sums is not None else dish_sums(flt):
        # A dish moved to another category within the range has two rows: one dish here.
        found = per_dish.setdefault(row.dish_code, [0, Decimal("0.00"), 0, 0])
        found[0] += row.quantity
        found[1] += row.revenue
        found[2] += row.orders
        found[3] += row.refunded_quantity
    all_portions = sum(values[0] for values in per_dish.values())
    ranked = sorted(per_dish.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
    if limit is not None:
        ranked = ranked[:limit]
    names = _dish_names(flt, [code for code, _ in ranked])
    return [
        DishRow(rank, code, names.get(code, code), quantity, money(revenue), orders, refunded,
                _ratio(quantity, all_portions))
        for rank, (code, (quantity, revenue, orders, refunded)) in enumerate(ranked, start=1)
    ]


@dataclass(frozen=True, slots=True)
class CategoryRow:
    name: str
    quantity: int
    revenue: Decimal
    share: Decimal | None  # percent of all portions sold


def favourite_categories(flt: ReportFilter, *, sums: list[DishSums] | None = None) -> list[CategoryRow]:
    """Menu categories by portions sold (then revenue); dishes deleted since (no category) are "—"."""
    per_category: dict[int | None, list] = {}
    for row in sums if sums is not None else dish_sums(flt):
        found = per_category.setdefault(row.category_id, [0, Decimal("0.00")])
        found[0] += row.quantity
        found[1] += row.revenue
    all_portions = sum(values[0] for values in per_category.values())
    english = _english()
    names = {
        pk: (en if english and en else zh)
        for pk, zh, en in MenuCategory.objects.filter(pk__in=[pk for pk in per_category if pk is not None])
        .values_list("pk", "name_zh", "name_en")
    }
    ranked = sorted(per_category.items(), key=lambda item: (-item[1][0], -item[1][1], item[0] or 0))
    return [
        CategoryRow(names.get(pk, "—") if pk is not None else "—", quantity, money(revenue),
                    _ratio(quantity, all_portions))
        for pk, (quantity, revenue) in ranked
    ]


@dataclass(frozen=True, slots=True)
class CustomerFigures:
    customers: int  # distinct customers with a paid order (kiosk orders have none)
    repeat_customers: int  # of them, those with 2 or more paid orders in the range
    orders: int  # their paid orders
    repeat_orders: int  # the paid orders of the repeat customers
    buckets: tuple[tuple[str, int], ...]  # (label, customers) for 1, 2, 3-5, 6+ orders

    @property
    def repeat_rate(self) -> Decimal | None:
        return _ratio(self.repeat_customers, self.customers)

    @property
    def repeat_order_share(self) -> Decimal | None:
        return _ratio(self.repeat_orders, self.orders)


def customer_figures(flt: ReportFilter) -> CustomerFigures:
    """Repeat customers over the range and selected stores: one aggregate over per-customer sums."""
    per_customer = _in_filter(CustomerDaySales, flt).values("customer_id").annotate(n=Sum("orders"))
    result = per_customer.aggregate(
        customers=Count("customer_id"),
        repeat=Count("customer_id", filter=Q(n__gte=2)),
        orders=Sum("n"),
        repeat_orders=Sum("n", filter=Q(n__gte=2)),
        once=Count("customer_id", filter=Q(n=1)),
        twice=Count("customer_id", filter=Q(n=2)),
        few=Count("customer_id", filter=Q(n__gte=3, n__lte=5)),
        many=Count("customer_id", filter=Q(n__gte=6)),
    )
    return CustomerFigures(
        customers=result["customers"] or 0,
        repeat_customers=result["repeat"] or 0,
        orders=result["orders"] or 0,
        repeat_orders=result["repeat_orders"] or 0,
        buckets=(
            (_("1 order"), result["once"] or 0),
            (_("2 orders"), result["twice"] or 0),
            (_("3–5 orders"), result["few"] or 0),
            (_("6 or more orders"), result["many"] or 0),
        ),
    )


@dataclass(frozen=True, slots=True)
class Heatmap:
    """Paid orders by local weekday (rows, Monday first) and hour (columns 0..23)."""

    cells: tuple[tuple[int, ...], ...]  # 7 rows of 24 counts
    peak: int  # the largest cell

    def hours_with_orders(self) -> range:
        """The hours to draw: from the first to the last hour with any order (all 24 when none)."""
        used = [hour for hour in range(24) if any(row[hour] for row in self.cells)]
        return range(used[0], used[-1] + 1) if used else range(24)


def peak_hours(flt: ReportFilter) -> Heatmap:
    grid = [[0] * 24 for _ in range(7)]
    for weekday, hour, orders in (
        _in_filter(StoreHourSales, flt).values("weekday", "hour").annotate(n=Sum("orders"))
        .values_list("weekday", "hour", "n")
    ):
        grid[weekday][hour] = orders
    return Heatmap(tuple(tuple(row) for row in grid), max(max(row) for row in grid))


def last_refresh(flt: ReportFilter) -> datetime | None:
    """The oldest refresh among the range's days (``None``: some day was never refreshed)."""
    refreshes = RollupRefresh.objects.filter(day__gte=flt.start, day__lte=flt.end)
    found = refreshes.aggregate(n=Count("day"), oldest=Min("refreshed_at"))
    return found["oldest"] if found["n"] == flt.days else None


def _english() -> bool:
    return (get_language() or "zh-hans").lower().startswith("en")
