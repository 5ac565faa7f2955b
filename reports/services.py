"""Rebuilding the daily rollups from the orders (the only writer of reports' tables).

``rollups_refresh`` rebuilds whole business days for every store: in one transaction it deletes
the days' rollup rows and inserts them again with ``INSERT ... SELECT`` from an aggregate the ORM
compiles for the database in use (PostgreSQL, or SQLite in the demo). The orders never pass
through Python. Running it twice gives the same rows; two refreshes of the same days wait for each
other (a transaction-scoped advisory lock on PostgreSQL; SQLite writes one at a time anyway).
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.db import connections, router, transaction
from django.db.models import Count, DecimalField, IntegerField, Max, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay
from django.utils import timezone

from ordering.models import Order, OrderLine, OrderStatus

from .models import (
    BrandDishDaySales,
    CustomerDaySales,
    DishDaySales,
    RollupRefresh,
    StoreDaySales,
    StoreHourSales,
)

logger = logging.getLogger(__name__)

STORE_TIMEZONE = ZoneInfo("Asia/Shanghai")
# An order counts once paid; "refunded" orders were paid and then paid back in full.
PAID_STATES = (
    OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY, OrderStatus.COMPLETED, OrderStatus.REFUNDED,
)
MAX_REFRESH_DAYS = 400
_ADVISORY_LOCK_KEY = 0x7265706F72747301  # "reports\x01"

_ZERO_MONEY = Value(0, output_field=DecimalField(max_digits=12, decimal_places=2))
_ZERO = Value(0, output_field=IntegerField())


def _store_day_source(start: date, end: date) -> QuerySet:
    paid, refunded = Q(status__in=PAID_STATES), Q(status=OrderStatus.REFUNDED)
    return (
        Order.objects.filter(business_date__gte=start, business_date__lte=end)
        .filter(paid | Q(status=OrderStatus.CANCELLED))
        .order_by()
        .values("brand_id", "store_id", "business_date")
        .annotate(
            r_orders=Count("id", filter=paid),
            r_revenue=Coalesce(Sum("total", filter=paid), _ZERO_MONEY),
            r_refunded_orders=Count("id", filter=refunded),
            r_refunded_amount=Coalesce(Sum("total", filter=refunded), _ZERO_MONEY),
            r_cancelled=Count("id", filter=Q(status=OrderStatus.CANCELLED)),
        )
    )


def _dish_day_source(start: date, end: date) -> QuerySet:
    kept, refunded = ~Q(order__status=OrderStatus.REFUNDED), Q(order__status=OrderStatus.REFUNDED)
    return (
        OrderLine.objects.filter(
            order__business_date__gte=start, order__business_date__lte=end, order__status__in=PAID_STATES
        )
        .order_by()
        .values("order__brand_id", "order__store_id", "dish_code", "order__business_date")
        .annotate(
            r_dish=Max("dish_id"),
            r_name_zh=Max("name_zh"),
            r_name_en=Max("name_en"),
            r_category=Max("dish__category_id"),
            r_quantity=Coalesce(Sum("quantity", filter=kept), _ZERO),
            r_revenue=Coalesce(Sum("line_total", filter=kept), _ZERO_MONEY),
            r_orders=Count("order_id", distinct=True, filter=kept),
            r_refunded=Coalesce(Sum("quantity", filter=refunded), _ZERO),
        )
    )


def _brand_dish_day_source(start: date, end: date) -> QuerySet:
    """From the store rollup just rebuilt (same transaction), summed over the stores."""
    return (
        DishDaySales.objects.filter(day__gte=start, day__lte=end)
        .order_by()
        .values("brand_id", "dish_code", "day")
        .annotate(
            r_category=Max("category_id"),
            r_name_zh=Max("name_zh"),
            r_name_en=Max("name_en"),
            r_quantity=Sum("quantity"),
            r_revenue=Sum("revenue"),
            r_orders=Sum("orders"),
            r_refunded=Sum("refunded_quantity"),
        )
    )


def _store_hour_source(start: date, end: date) -> QuerySet:
    return (
        Order.objects.filter(business_date__gte=start, business_date__lte=end, status__in=PAID_STATES)
        .order_by()
        .annotate(
            r_weekday=ExtractIsoWeekDay("created_at", tzinfo=STORE_TIMEZONE) - 1,
            r_hour=ExtractHour("created_at", tzinfo=STORE_TIMEZONE),
        )
        .values("brand_id", "store_id", "business_date", "r_weekday", "r_hour")
        .annotate(r_orders=Count("id"))
    )


def _customer_day_source(start: date, end: date) -> QuerySet:
    return (
        Order.objects.filter(
            business_date__gte=start, business_date__lte=end, status__in=PAID_STATES, customer__isnull=False
        )
        .order_by()
        .values("brand_id", "store_id", "customer_id", "business_date")
        .annotate(r_orders=Count("id"))
    )


# (rollup model, its columns in the order of the source's select, the source)
_ROLLUPS = (
    (StoreDaySales, ("brand_id", "store_id", "day", "orders", "revenue", "refunded_orders",
                     "refunded_amount", "cancelled_orders"), _store_day_source),
    (DishDaySales, ("brand_id", "store_id", "dish_code", "day", "dish_id", "name_zh", "name_en",
                    "category_id", "quantity", "revenue", "orders", "refunded_quantity"), _dish_day_source),
    (BrandDishDaySales, ("brand_id", "dish_code", "day", "category_id", "name_zh", "name_en", "quantity",
                         "revenue", "orders", "refunded_quantity"), _brand_dish_day_source),
    (StoreHourSales, ("brand_id", "store_id", "day", "weekday", "hour", "orders"), _store_hour_source),
    (CustomerDaySales, ("brand_id", "store_id", "customer_id", "day", "orders"), _customer_day_source),
)


def _insert_select(cursor, model, columns: tuple[str, ...], source: QuerySet) -> int:
    sql, params = source.query.sql_with_params()
    connection = cursor.db
    quote = connection.ops.quote_name
    target = ", ".join(quote(column) for column in columns)
    cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({target}) {sql}", params)
    return cursor.rowcount


def rollups_refresh(*, start: date, end: date) -> dict[str, int]:
    """Rebuild every rollup for the business days ``start``..``end`` (inclusive), all stores.

    Returns the number of rows written per rollup (``{"StoreDaySales": 200, ...}``).
    """
    if start > end:
        raise ValueError("start must not be after end")
    if (end - start).days + 1 > MAX_REFRESH_DAYS:
        raise ValueError(f"refresh at most {MAX_REFRESH_DAYS} days at once")
    alias = router.db_for_write(StoreDaySales)
    connection = connections[alias]
    written: dict[str, int] = {}
    with transaction.atomic(using=alias):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
            for model, columns, source in _ROLLUPS:
                model.objects.using(alias).filter(day__gte=start, day__lte=end).delete()
                written[model.__name__] = _insert_select(cursor, model, columns, source(start, end))
        per_day = dict(
            StoreDaySales.objects.using(alias).filter(day__gte=start, day__lte=end)
            .order_by().values("day").annotate(n=Sum("orders")).values_list("day", "n")
        )
        now = timezone.now()
        days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
        RollupRefresh.objects.using(alias).bulk_create(
            [RollupRefresh(day=day, refreshed_at=now, orders=per_day.get(day, 0)) for day in days],
            update_conflicts=True, unique_fields=["day"], update_fields=["refreshed_at", "orders"],
        )
    logger.info("reports rollups refreshed %s..%s: %s", start, end, written)
    return written


def rollups_refresh_recent(*, days: int = 2, today: date | None = None) -> dict[str, int]:
    """Rebuild the last ``days`` business days up to today (store local time)."""
    today = today or timezone.now().astimezone(STORE_TIMEZONE).date()
    return rollups_refresh(start=today - timedelta(days=max(days, 1) - 1), end=today)
