"""Benchmark: server time of the HQ sales dashboard for a 30-day, all-stores view on PostgreSQL.

    .venv/bin/python bench/reports.py [--orders 1000000] [--stores 200] [--days 120] [--runs 7]

Uses its own database (``restaurant_bench_reports`` on the loopback PostgreSQL of DATABASE_URL;
created when missing, then migrated), loads one brand with ``--stores`` stores, 60 dishes in
6 categories, 100,000 customers and ``--orders`` orders with their lines spread over the last
``--days`` business days, with plain SQL (``INSERT ... SELECT`` over ``generate_series``), then
rebuilds the rollups with ``reports.services.rollups_refresh`` and times ``GET /reports/`` for the
last 30 days and every store as an HQ manager, in-process through Django's test client (routing,
middleware, the view, every selector query and the template; not the network). Prints the load
and refresh times, the SQL queries of one request, and median and max over ``--runs`` requests
against the target (under 1 second). Later runs reuse the data when it has the same size
(``--reload`` to load it again); the rollups are rebuilt on every run. A benchmark that prints
figures, not a test: it asserts nothing.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _common import ensure_database  # noqa: E402  (bench/ is the script's folder on sys.path)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/restaurant_bench_reports"
TARGET_S = 1.0
BRAND = "benchreports"
DISHES = 60
CATEGORIES = 6
CUSTOMERS = 100_000
# Local hours orders are placed at, repeated by how busy the hour is (lunch and dinner peaks).
HOURS = [7, 8, 9, 10, 11, 11, 11, 12, 12, 12, 12, 12, 13, 13, 14, 15, 16, 17, 17, 18, 18, 18, 18, 19, 19, 20, 21]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to load (default 1,000,000)")
    parser.add_argument("--stores", type=int, default=200, help="stores of the brand (default 200)")
    parser.add_argument("--days", type=int, default=120, help="business days the orders spread over (default 120)")
    parser.add_argument("--view-days", type=int, default=30, help="days in the timed dashboard view (default 30)")
    parser.add_argument("--runs", type=int, default=7, help="timed requests (default 7)")
    parser.add_argument("--reload", action="store_true", help="delete the brand's orders and load them again")
    return parser.parse_args()


def build_brand(stores: int):
    """The brand, its stores, categories, dishes and an HQ manager (idempotent); returns (brand, hq)."""
    from decimal import Decimal

    from django.db import transaction

    from accounts.models import Role, User
    from stores.models import Brand, Dish, MenuCategory, StaffAssignment, Store

    with transaction.atomic():
        brand, _ = Brand.objects.get_or_create(code=BRAND, defaults={"name": "基准连锁"})
        have = set(Store.objects.filter(brand=brand).values_list("code", flat=True))
        Store.objects.bulk_create(
            Store(brand=brand, code=f"BR{i:04d}", name=f"基准门店{i}", city=["上海", "北京", "杭州", "南京"][i % 4],
                  address="基准路 1 号", latitude=Decimal("31.230416"), longitude=Decimal("121.473701"))
            for i in range(stores) if f"BR{i:04d}" not in have
        )
        categories = [
            MenuCategory.objects.get_or_create(
                brand=brand, code=f"bcat{i}", defaults={"name_zh": f"分类{i}", "name_en": f"Category {i}"})[0]
            for i in range(CATEGORIES)
        ]
        have = set(Dish.objects.filter(brand=brand).values_list("code", flat=True))
        Dish.objects.bulk_create(
            Dish(brand=brand, category=categories[i % CATEGORIES], code=f"BD{i:03d}", name_zh=f"基准菜{i}",
                 name_en=f"Bench dish {i}", price=Decimal(10 + i % 30))
            for i in range(DISHES) if f"BD{i:03d}" not in have
        )
        hq, created = User.objects.get_or_create(
            phone="13999990000", defaults={"name": "基准总部", "role": Role.HQ_MANAGER, "is_staff": True})
        if created:
            StaffAssignment.objects.create(user=hq, brand=brand)
    return brand, hq


def load_orders(brand, *, orders: int, stores: int, days: int, today) -> float:
    """Customers, orders and lines in plain SQL; returns seconds taken."""
    from django.db import connection, transaction

    started = time.perf_counter()
    first_day = today - timedelta(days=days - 1)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM ordering_orderline WHERE brand_id = %s", [brand.pk])
        cur.execute("DELETE FROM ordering_order WHERE brand_id = %s", [brand.pk])
        cur.execute(
            "INSERT INTO accounts_user (password, is_superuser, phone, name, role, is_staff, is_active, is_frozen,"
            " frozen_reason, date_joined)"
            " SELECT '!', false, '166' || lpad(g::text, 8, '0'), '基准顾客' || g, 'customer', false, true, false,"
            " '', now() FROM generate_series(1, %s) g ON CONFLICT (phone) DO NOTHING",
            [CUSTOMERS],
        )
        cur.execute("CREATE TEMP TABLE bench_store ON COMMIT DROP AS SELECT row_number() OVER (ORDER BY code) - 1"
                    " AS idx, id FROM stores_store WHERE brand_id = %s AND code LIKE 'BR%%'", [brand.pk])
        cur.execute("CREATE TEMP TABLE bench_dish ON COMMIT DROP AS SELECT row_number() OVER (ORDER BY code) - 1"
                    " AS idx, id, code, name_zh, name_en, price, kcal FROM stores_dish WHERE brand_id = %s", [brand.pk])
        cur.execute("CREATE TEMP TABLE bench_customer ON COMMIT DROP AS SELECT row_number() OVER (ORDER BY phone) - 1"
                    " AS idx, id FROM accounts_user WHERE phone LIKE '166%%'")
        for table in ("bench_store", "bench_dish", "bench_customer"):
            cur.execute(f"CREATE UNIQUE INDEX ON {table} (idx)")
            cur.execute(f"ANALYZE {table}")
        # Order g: store g % S, day (g / S) % D; the rest from hashes of g (PostgreSQL's hashint8extended with
        # a seed per use): 86 % completed, 3 % refunded, 4 % cancelled, 3 % paid, 2 % preparing, 2 % ready;
        # 85 % have a customer, chosen with a skew among 100,000 (a few order often, most rarely); the local
        # hour follows lunch and dinner peaks; 1-3 lines of one of 60 dishes, 1 or 2 portions each.
        order_sql = """
            INSERT INTO ordering_order (id, brand_id, store_id, customer_id, business_date, number, status, source,
                fulfilment, table_code, delivery_address, contact_phone, note, subtotal, delivery_fee, total,
                pickup_code, idempotency_scope, idempotency_key, request_fingerprint, stock_reserved, created_at,
                expires_at, paid_at, cancelled_at, cancel_reason)
            SELECT gen_random_uuid(), %(brand)s, s.id, c.id, o.day, o.g, o.status, 'web', 'pickup', '', '', '', '',
                t.total, 0, t.total, '', '', '', '', '{}'::jsonb, o.created, o.created + interval '15 minutes',
                CASE WHEN o.status <> 'cancelled' THEN o.created + interval '1 minute' END,
                CASE WHEN o.status = 'cancelled' THEN o.created + interval '15 minutes' END,
                CASE WHEN o.status = 'cancelled' THEN 'expired' ELSE '' END
            FROM (
                SELECT g, day, store_idx, cust,
                    CASE WHEN pick < 86 THEN 'completed' WHEN pick < 89 THEN 'refunded' WHEN pick < 93 THEN 'cancelled'
                         WHEN pick < 96 THEN 'paid' WHEN pick < 98 THEN 'preparing' ELSE 'ready' END AS status,
                    (day + make_interval(hours => (%(hours)s::int[])[1 + hour_pick], mins => minute))
                        AT TIME ZONE 'Asia/Shanghai' AS created
                FROM (
                    SELECT g, %(first_day)s::date + ((g / %(stores)s) %% %(days)s)::int AS day,
                        (g %% %(stores)s)::int AS store_idx,
                        abs(hashint8extended(g, 1)) %% 100 AS pick,
                        CASE WHEN abs(hashint8extended(g, 2)) %% 100 < 85
                             THEN floor(%(customers)s * power((abs(hashint8extended(g, 3)) %% 1000003)::float
                                                              / 1000003, 2))::int END AS cust,
                        (abs(hashint8extended(g, 4)) %% %(n_hours)s)::int AS hour_pick,
                        (abs(hashint8extended(g, 5)) %% 60)::int AS minute
                    FROM generate_series(1::bigint, %(orders)s::bigint) g
                ) raw
            ) o
            JOIN bench_store s ON s.idx = o.store_idx
            LEFT JOIN bench_customer c ON c.idx = o.cust
            CROSS JOIN LATERAL (
                SELECT sum(d.price * (1 + abs(hashint8extended(o.g * 8 + k, 7)) %% 2)) AS total
                FROM generate_series(1, 1 + abs(hashint8extended(o.g, 8)) %% 3) k
                JOIN bench_dish d ON d.idx = abs(hashint8extended(o.g * 8 + k, 6)) %% %(dishes)s
            ) t
        """
        cur.execute(order_sql, {"brand": brand.pk, "first_day": first_day, "stores": stores, "days": days,
                                "orders": orders, "customers": CUSTOMERS, "hours": HOURS, "n_hours": len(HOURS),
                                "dishes": DISHES})
        cur.execute("""
            INSERT INTO ordering_orderline (brand_id, order_id, dish_id, dish_code, name_zh, name_en, base_price,
                unit_price, quantity, line_total, options, kcal, protein_g, fat_g, carbs_g, is_set_meal, position)
            SELECT %(brand)s, o.id, d.id, d.code, d.name_zh, d.name_en, d.price, d.price, q.n, d.price * q.n,
                '[]'::jsonb, d.kcal, 0, 0, 0, false, k - 1
            FROM ordering_order o
            CROSS JOIN LATERAL generate_series(1, 1 + abs(hashint8extended(o.number, 8)) %% 3) k
            CROSS JOIN LATERAL (SELECT 1 + abs(hashint8extended(o.number::bigint * 8 + k, 7)) %% 2 AS n) q
            JOIN bench_dish d ON d.idx = abs(hashint8extended(o.number::bigint * 8 + k, 6)) %% %(dishes)s
            WHERE o.brand_id = %(brand)s
        """, {"brand": brand.pk, "dishes": DISHES})
    with connection.cursor() as cur:
        for table in ("ordering_order", "ordering_orderline", "accounts_user"):
            cur.execute(f"ANALYZE {table}")
    return time.perf_counter() - started


def main() -> int:
    args = parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    ensure_database(os.environ["DATABASE_URL"], require_postgres=True)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from ordering.models import Order, OrderLine
    from reports.models import BrandDishDaySales, DishDaySales, StoreDaySales
    from reports.services import rollups_refresh
    from stores.selectors import local_now

    setup_test_environment()  # the test client then records the template context (read for the totals)
    call_command("migrate", verbosity=0, interactive=False)
    today = local_now().date()
    brand, hq = build_brand(args.stores)
    first_day = today - timedelta(days=args.days - 1)
    have = Order.objects.filter(brand=brand).count()
    span = Order.objects.filter(brand=brand).order_by("business_date").values_list("business_date", flat=True)
    fresh = have == args.orders and span.first() == first_day and not args.reload
    if fresh:
        print(f"reusing {have:,} orders of brand {BRAND} ({first_day} .. {today})")
        load_s = None
    else:
        print(f"loading {args.orders:,} orders across {args.stores} stores over {args.days} days ...", flush=True)
        load_s = load_orders(brand, orders=args.orders, stores=args.stores, days=args.days, today=today)
        print(f"  loaded in {load_s:.1f} s", flush=True)

    print(f"refreshing the rollups for {args.days} days ...", flush=True)
    started = time.perf_counter()
    written = rollups_refresh(start=first_day, end=today)
    refresh_s = time.perf_counter() - started
    print(f"  refreshed in {refresh_s:.1f} s: {written}", flush=True)
    with connection.cursor() as cur:
        for table in ("reports_storedaysales", "reports_dishdaysales", "reports_branddishdaysales",
                      "reports_storehoursales", "reports_customerdaysales"):
            # What autovacuum does soon after the rows are written: planner statistics and the
            # visibility map (the covering indexes are read without visiting the table).
            cur.execute(f"VACUUM ANALYZE {table}")

    start = today - timedelta(days=args.view_days - 1)
    params = {"start": start.isoformat(), "end": today.isoformat()}
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(hq)
    response = client.get("/reports/", params)
    if response.status_code != 200:
        print(f"GET /reports/ answered {response.status_code}: {response.content[:300]!r}", file=sys.stderr)
        return 1
    total = response.context["total"]
    with CaptureQueriesContext(connection) as queries:
        client.get("/reports/", params)
    query_count = len(queries)
    def timed(query: dict) -> list[float]:
        client.get("/reports/", query)
        runs = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            client.get("/reports/", query)
            runs.append(time.perf_counter() - t0)
        return sorted(runs)

    timings = timed(params)
    # The same view with all stores but one picked: no brand-wide rollup, the per-store path.
    from stores.models import Store

    picked = list(Store.objects.filter(brand=brand).order_by("code").values_list("id", flat=True))[1:]
    subset = timed({**params, "stores": picked})
    view_orders = Order.objects.filter(brand=brand, business_date__gte=start).count()
    median = statistics.median(timings)

    print(f"reports benchmark  GET /reports/ as an HQ manager  ({connection.vendor}, "
          f"database {connection.settings_dict['NAME']})")
    print(f"  data                  {have if fresh else args.orders:,} orders, "
          f"{OrderLine.objects.filter(brand=brand).count():,} lines, "
          f"{args.stores} stores, {args.days} days"
          + (f" (loaded in {load_s:.0f} s)" if load_s else " (reused)"))
    print(f"  rollup refresh        {refresh_s:.1f} s for {args.days} days (all stores)")
    print(f"  rollup rows           {StoreDaySales.objects.count():,} store-days, "
          f"{DishDaySales.objects.count():,} store-dish-days, {BrandDishDaySales.objects.count():,} brand-dish-days")
    print(f"  view                  {start} .. {today}, all {args.stores} stores: {view_orders:,} orders "
          f"({total.orders:,} paid, net ¥{total.net_revenue:,})")
    print(f"  SQL queries/request   {query_count}")
    print(f"  runs                  {args.runs} timed after 2 untimed")
    print(f"  median                {median * 1000:8.1f} ms")
    print(f"  max                   {timings[-1] * 1000:8.1f} ms")
    print(f"  min                   {timings[0] * 1000:8.1f} ms")
    print(f"  {len(picked)} of {args.stores} stores picked (per-store rollups): median "
          f"{statistics.median(subset) * 1000:.1f} ms, max {subset[-1] * 1000:.1f} ms")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"  load average          {load} on {os.cpu_count()} CPUs (other work skews the figures)")
    print(f"  target median < {TARGET_S:.0f} s: {'meets' if median < TARGET_S else 'MISSES'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
