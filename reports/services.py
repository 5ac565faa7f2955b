"""Rebuilding the daily rollups from the orders (the only writer of reports' tables).

``rollups_refresh`` rebuilds whole business days for every store: in one transaction it deletes
the days' rollup rows and inserts them again with ``INSERT ... SELECT`` from an aggregate the ORM
compiles for the database in use (PostgreSQL, or SQLite in the demo). The orders never pass
through Python. Refunds come from the refund requests (``StoreDayRefunds``, by reason), and
``StoreDaySales.refunded_amount`` is their sum (see reports.models for what counts).
Running it twice gives the same rows; two refreshes of the same days wait for each
other (a transaction-scoped advisory lock on PostgreSQL; SQLite writes one at a time anyway).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db import connections, router, transaction
from django.db.models import (
    CharField,
    Count,
    DecimalField,
    Exists,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, ExtractHour, ExtractIsoWeekDay
from django.utils import timezone

from ordering.models import Order, OrderLine, OrderStatus
from refunds.models import RefundRequest, RefundStatus

from .models import (
    BrandDishDaySales,
    CustomerDaySales,
    DishDaySales,
    RollupRefresh,
    StoreDayRefunds,
    StoreDaySales,
    StoreHourSales,
)

logger = logging.getLogger(__name__)

STORE_TIMEZONE = ZoneInfo("Asia/Shanghai")
# An order counts once paid; "refunded" orders were paid and then paid back in full.
PAID_STATES = (
    OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY, OrderStatus.COMPLETED, OrderStatus.REFUNDED,
)
# Refund requests whose money counts as paid back: decided to refund (a failed payout is still owed:
# the customer picks another destination or it is retried). Requested / under review: not decided
# yet; rejected / withdrawn: nothing goes back.
REFUND_COUNTED_STATES = (
    RefundStatus.APPROVED, RefundStatus.PROCESSING, RefundStatus.SUCCEEDED, RefundStatus.FAILED,
)
# How far back a refund decided today still rebuilds its order's day (rollups_refresh_recent).
LATE_REFUND_DAYS = 90
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
            r_refunded_amount=_ZERO_MONEY,  # filled from StoreDayRefunds (_store_day_refunded_amounts)
            r_cancelled=Count("id", filter=Q(status=OrderStatus.CANCELLED)),
        )
    )


def _counted_requests() -> QuerySet:
    return RefundRequest.objects.filter(status__in=REFUND_COUNTED_STATES)


def _store_day_refund_sources(start: date, end: date) -> tuple[QuerySet, QuerySet]:
    """Refunds by order store, order business day and reason: the counted refund requests, and
    the orders refunded in full with no counted request (reason "")."""
    requests = (
        _counted_requests().filter(order__business_date__gte=start, order__business_date__lte=end)
        .order_by()
        .values("order__brand_id", "order__store_id", "order__business_date", "reason_code")
        .annotate(r_refunds=Count("id"), r_amount=Sum("amount"))
    )
    without_request = (
        Order.objects.filter(business_date__gte=start, business_date__lte=end, status=OrderStatus.REFUNDED)
        .filter(~Exists(_counted_requests().filter(order_id=OuterRef("pk"))))
        .order_by()
        .values("brand_id", "store_id", "business_date")
        .annotate(r_reason=Value("", output_field=CharField()), r_refunds=Count("id"), r_amount=Sum("total"))
    )
    return requests, without_request


def _store_day_refunded_amounts(using: str, start: date, end: date) -> None:
    """``StoreDaySales.refunded_amount``: the refunds of the store and day, summed over the reasons
    (the rollup is derived data: a plain UPDATE, in the refresh's transaction)."""
    per_store_day = (
        StoreDayRefunds.objects.using(using).filter(store_id=OuterRef("store_id"), day=OuterRef("day"))
        .order_by().values("store_id", "day").annotate(s=Sum("amount")).values("s")
    )
    StoreDaySales.objects.using(using).filter(day__gte=start, day__lte=end).update(
        refunded_amount=Coalesce(Subquery(per_store_day), _ZERO_MONEY)
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
    (StoreDayRefunds, ("brand_id", "store_id", "day", "reason_code", "refunds", "amount"),
     _store_day_refund_sources),
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
                sources = source(start, end)
                written[model.__name__] = sum(
                    _insert_select(cursor, model, columns, qs)
                    for qs in (sources if isinstance(sources, tuple) else (sources,))
                )
        _store_day_refunded_amounts(alias, start, end)
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


def late_refund_days(*, start: date, since: datetime) -> list[date]:
    """Business days before ``start`` (at most ``LATE_REFUND_DAYS`` back) with an order whose refund
    was decided at or after ``since``: their refund figures changed after the days were rebuilt.

    A request starts to count when it is approved (``approved_at``, automatic or by review) and
    never stops counting afterwards, so the approval time is the one change to look for.
    """
    return list(
        RefundRequest.objects.filter(
            approved_at__gte=since, order__business_date__lt=start,
            order__business_date__gte=start - timedelta(days=LATE_REFUND_DAYS),
        )
        .order_by("order__business_date").values_list("order__business_date", flat=True).distinct()
    )


def rollups_refresh_recent(*, days: int = 2, today: date | None = None) -> dict[str, int]:
    """Rebuild the last ``days`` business days up to today (store local time), and the older days
    whose orders had a refund decided since the first of those days began (a late refund counts on
    its order's day)."""
    today = today or timezone.now().astimezone(STORE_TIMEZONE).date()
    start = today - timedelta(days=max(days, 1) - 1)
    written = rollups_refresh(start=start, end=today)
    since = datetime.combine(start, time(0, 0), tzinfo=STORE_TIMEZONE)
    for day in late_refund_days(start=start, since=since):
        for name, rows in rollups_refresh(start=day, end=day).items():
            written[name] = written.get(name, 0) + rows
    return written
