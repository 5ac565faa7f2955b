from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from ordering.models import OrderStatus
from reports.models import (
    BrandDishDaySales,
    CustomerDaySales,
    DishDaySales,
    RollupRefresh,
    StoreDaySales,
    StoreHourSales,
)
from reports.selectors import DishDayQuantity, dish_sales_daily
from reports.services import rollups_refresh, rollups_refresh_recent
from reports.tasks import rollups_refresh_recent_task
from stores.selectors import local_now
from tests.ordering.factories import paid_order

from .conftest import D0, D1, D2
from .factories import finished_order

pytestmark = pytest.mark.django_db


def _store_days(store):
    return {
        row.day: (row.orders, row.revenue, row.refunded_orders, row.refunded_amount, row.cancelled_orders)
        for row in StoreDaySales.objects.filter(store=store)
    }


def _snapshot():
    return (
        sorted(StoreDaySales.objects.values_list(
            "store_id", "day", "orders", "revenue", "refunded_orders", "refunded_amount", "cancelled_orders")),
        sorted(DishDaySales.objects.values_list(
            "store_id", "dish_code", "day", "dish_id", "name_zh", "category_id", "quantity", "revenue", "orders",
            "refunded_quantity")),
        sorted(BrandDishDaySales.objects.values_list(
            "brand_id", "dish_code", "day", "category_id", "quantity", "revenue", "orders", "refunded_quantity")),
        sorted(StoreHourSales.objects.values_list("store_id", "day", "weekday", "hour", "orders")),
        sorted(CustomerDaySales.objects.values_list("store_id", "customer_id", "day", "orders")),
    )


def test_store_day_rollup_counts_paid_orders_refunds_and_cancellations(world):
    assert _store_days(world.sh001) == {
        D0: (1, Decimal("18.00"), 0, Decimal("0.00"), 0),
        D1: (3, Decimal("72.50"), 1, Decimal("18.00"), 1),  # 42 + 12.50 + 18 (refunded); 1 cancelled
        D2: (2, Decimal("37.00"), 0, Decimal("0.00"), 0),
    }
    assert _store_days(world.sh002) == {
        D1: (1, Decimal("30.50"), 0, Decimal("0.00"), 0),
        D2: (1, Decimal("6.00"), 0, Decimal("0.00"), 0),
    }
    assert _store_days(world.sh003) == {D2: (1, Decimal("90.00"), 0, Decimal("0.00"), 0)}
    assert set(StoreDaySales.objects.values_list("brand_id", flat=True)) == {world.brand.pk, world.rival.brand_id}


def test_dish_day_rollup_keeps_refunded_portions_apart(world):
    rows = {
        (row.dish_code, row.day): (row.quantity, row.revenue, row.orders, row.refunded_quantity, row.dish_id,
                                   row.category_id, row.name_en)
        for row in DishDaySales.objects.filter(store=world.sh001)
    }
    noodles_cat = world.noodles.category_id
    assert rows == {
        ("noodles", D0): (1, Decimal("18.00"), 1, 0, world.noodles.pk, noodles_cat, "Beef noodles"),
        ("noodles", D1): (2, Decimal("36.00"), 1, 1, world.noodles.pk, noodles_cat, "Beef noodles"),
        ("tea", D1): (1, Decimal("6.00"), 1, 0, world.tea.pk, world.tea.category_id, "Tea"),
        ("dumplings", D1): (1, Decimal("12.50"), 1, 0, world.dumplings.pk, noodles_cat, "Dumplings"),
        ("dumplings", D2): (2, Decimal("25.00"), 1, 0, world.dumplings.pk, noodles_cat, "Dumplings"),
        ("tea", D2): (2, Decimal("12.00"), 1, 0, world.tea.pk, world.tea.category_id, "Tea"),
    }


def test_brand_dish_rollup_sums_the_stores(world):
    rows = {
        (row.dish_code, row.day): (row.quantity, row.revenue, row.orders, row.refunded_quantity, row.category_id)
        for row in BrandDishDaySales.objects.filter(brand=world.brand)
    }
    noodles_cat, drinks_cat = world.noodles.category_id, world.tea.category_id
    assert rows == {
        ("noodles", D0): (1, Decimal("18.00"), 1, 0, noodles_cat),
        ("noodles", D1): (3, Decimal("54.00"), 2, 1, noodles_cat),  # SH001 2 (+1 refunded), SH002 1
        ("noodles", D2): (5, Decimal("90.00"), 1, 0, noodles_cat),
        ("dumplings", D1): (2, Decimal("25.00"), 2, 0, noodles_cat),
        ("dumplings", D2): (2, Decimal("25.00"), 1, 0, noodles_cat),
        ("tea", D1): (1, Decimal("6.00"), 1, 0, drinks_cat),
        ("tea", D2): (3, Decimal("18.00"), 2, 0, drinks_cat),
    }


def test_hour_rollup_uses_the_local_weekday_and_hour(world):
    rows = {(row.store.code, row.day, row.weekday, row.hour): row.orders
            for row in StoreHourSales.objects.filter(brand=world.brand).select_related("store")}
    assert rows == {
        ("SH001", D0, 6, 12): 1,  # Sunday
        ("SH001", D1, 0, 10): 1,
        ("SH001", D1, 0, 12): 2,  # completed + refunded; the cancelled and the unpaid are not counted
        ("SH001", D2, 1, 18): 2,
        ("SH002", D1, 0, 12): 1,
        ("SH002", D2, 1, 7): 1,  # 07:30 Tuesday in Shanghai is 23:30 Monday in UTC
        ("SH003", D2, 1, 12): 1,
    }


def test_customer_rollup_counts_paid_orders_per_customer_store_and_day(world):
    a, b, c, d = world.customers
    rows = {(row.store.code, row.customer_id, row.day): row.orders
            for row in CustomerDaySales.objects.filter(brand=world.brand).select_related("store")}
    assert rows == {
        ("SH001", a.pk, D0): 1,
        ("SH001", a.pk, D1): 2,
        ("SH001", b.pk, D1): 1,
        ("SH001", a.pk, D2): 1,
        ("SH002", b.pk, D1): 1,
        ("SH002", d.pk, D2): 1,
        ("SH003", a.pk, D2): 1,
    }
    assert not CustomerDaySales.objects.filter(customer=c).exists()  # C never paid


def test_refresh_twice_gives_the_same_rows(world):
    before = _snapshot()
    written = rollups_refresh(start=D0, end=D2)
    assert _snapshot() == before
    assert written == {"StoreDaySales": 7, "StoreDayRefunds": 1, "DishDaySales": 11, "BrandDishDaySales": 8,
                       "StoreHourSales": 8, "CustomerDaySales": 8}
    assert list(RollupRefresh.objects.order_by("day").values_list("day", "orders")) == [(D0, 1), (D1, 5), (D2, 4)]


def test_refresh_picks_up_changes_only_for_its_days(world):
    finished_order(world.sh002, day=D2, at="20:00", status=OrderStatus.COMPLETED, customer=world.customers[3],
                   lines=[(world.tea, 4)])
    finished_order(world.sh002, day=D0, at="20:00", status=OrderStatus.COMPLETED, lines=[(world.tea, 1)])
    rollups_refresh(start=D2, end=D2)
    assert _store_days(world.sh002) == {
        D1: (1, Decimal("30.50"), 0, Decimal("0.00"), 0),
        D2: (2, Decimal("30.00"), 0, Decimal("0.00"), 0),  # 6 + 24
    }  # D0 not refreshed: its new order is not there yet
    assert DishDaySales.objects.get(store=world.sh002, dish_code="tea", day=D2).quantity == 5
    assert CustomerDaySales.objects.get(store=world.sh002, customer=world.customers[3], day=D2).orders == 2
    rollups_refresh(start=D0, end=D0)
    assert _store_days(world.sh002)[D0] == (1, Decimal("6.00"), 0, Decimal("0.00"), 0)


def test_refresh_drops_rows_whose_orders_are_gone(world):
    world.sh003.orders.all().delete()
    rollups_refresh(start=D2, end=D2)
    assert not StoreDaySales.objects.filter(store=world.sh003).exists()
    assert not DishDaySales.objects.filter(store=world.sh003).exists()


def test_refresh_refuses_a_reversed_or_huge_range(db):
    with pytest.raises(ValueError, match="start must not be after end"):
        rollups_refresh(start=D2, end=D1)
    with pytest.raises(ValueError, match="at most 400 days"):
        rollups_refresh(start=D0 - timedelta(days=400), end=D0)


def test_orders_placed_and_paid_through_the_services_are_counted(customer, store, menu):
    order = paid_order(customer, store, menu)  # 45.00: noodles (hot) 20.00 + 2 dumplings at 12.50
    assert order.status == OrderStatus.PAID
    today = local_now().date()
    rollups_refresh_recent(days=1)
    row = StoreDaySales.objects.get(store=store, day=today)
    assert (row.orders, row.revenue, row.refunded_orders) == (1, Decimal("45.00"), 0)
    assert dish_sales_daily([store.pk], today, today) == [
        DishDayQuantity(store.pk, "dumplings", today, 2, 0),
        DishDayQuantity(store.pk, "noodles", today, 1, 0),
    ]
    hour_row = StoreHourSales.objects.get(store=store, day=today)
    local_created = timezone.localtime(order.created_at)
    assert (hour_row.weekday, hour_row.hour, hour_row.orders) == (local_created.weekday(), local_created.hour, 1)


def test_the_task_refreshes_today_and_yesterday(customer, store, menu):
    paid_order(customer, store, menu)
    result = rollups_refresh_recent_task.delay(days=2).get()
    today = local_now().date()
    assert result["StoreDaySales"] == 1
    assert set(RollupRefresh.objects.values_list("day", flat=True)) == {today - timedelta(days=1), today}


def test_dish_sales_daily_is_ordered_and_scoped(world):
    rows = dish_sales_daily([world.sh002.pk, world.sh003.pk], D1, D2)
    assert rows == [
        DishDayQuantity(world.sh002.pk, "dumplings", D1, 1, 0),
        DishDayQuantity(world.sh002.pk, "noodles", D1, 1, 0),
        DishDayQuantity(world.sh002.pk, "tea", D2, 1, 0),
        DishDayQuantity(world.sh003.pk, "noodles", D2, 5, 0),
    ]


def test_refresh_runs_as_insert_select_without_reading_orders_into_python(world, django_assert_max_num_queries):
    # 1 advisory lock + 6 deletes + 7 inserts (refunds: requests, and orders refunded without one)
    # + 1 update of the refunded amounts + 1 per-day sum + 1 upsert (+ savepoint/transaction noise)
    with django_assert_max_num_queries(20) as captured:
        rollups_refresh(start=D0, end=D2)
    inserts = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("INSERT INTO \"reports_")]
    assert len(inserts) == 8  # seven INSERT ... SELECT into six rollups + the refresh marks
    assert connection.vendor == "postgresql"
    assert all("SELECT" in sql for sql in inserts[:7])
    updates = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("UPDATE \"reports_")]
    assert len(updates) == 1 and "reports_storedayrefunds" in updates[0]


def test_management_command_backfills_a_range(world):
    from io import StringIO

    from django.core.management import CommandError, call_command

    StoreDaySales.objects.all().delete()
    out = StringIO()
    call_command("reports_refresh", "--start", "2026-03-01", "--end", "2026-03-03", stdout=out)
    assert out.getvalue().strip() == (
        "2026-03-01..2026-03-03: StoreDaySales 7, StoreDayRefunds 1, DishDaySales 11, BrandDishDaySales 8, "
        "StoreHourSales 8, CustomerDaySales 8"
    )
    assert StoreDaySales.objects.count() == 7
    with pytest.raises(CommandError, match="--start must not be after --end"):
        call_command("reports_refresh", "--start", "2026-03-04", "--end", "2026-03-03")
    out = StringIO()
    call_command("reports_refresh", "--start", "2024-01-01", "--end", "2026-03-03", stdout=out)
    assert len(out.getvalue().strip().splitlines()) == 2  # 793 days in chunks of at most 400
