"""Benchmark: server time of the menu API (GET /api/v1/stores/<code>/menu/) on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/restaurant_bench \\
        .venv/bin/python bench/menu.py [--dishes 300] [--requests 300]

Uses its own database (created when missing, then migrated), builds one brand with one
store and ``--dishes`` dishes (categories, tags, allergens, option groups, some store
overrides) once, and times in-process requests through Django's test client after a
warm-up. Prints queries per request and p50/p95/p99/max in milliseconds against the
target (p95 under 30 ms). A benchmark that prints figures, not a test: it asserts nothing
and pytest never collects it (testpaths is tests/).
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _common import ensure_database, percentile  # noqa: E402  (bench/ is the script's folder on sys.path)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/restaurant_bench"
TARGET_P95_MS = 30.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dishes", type=int, default=300, help="dishes on the store's menu (default 300)")
    parser.add_argument("--requests", type=int, default=300, help="timed requests (default 300)")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests first (default 30)")
    parser.add_argument("--language", default="zh-hans", help="Accept-Language of the requests")
    parser.add_argument(
        "--cold", action="store_true",
        help="empty Django's cache before every request: time the uncached menu (brand part rebuilt)",
    )
    return parser.parse_args()


def build_menu(dishes: int) -> str:
    """One brand and store per menu size, built once; returns the store code."""
    from datetime import time as clock

    from django.db import transaction

    from stores.models import (
        Allergen,
        Brand,
        Dish,
        MenuCategory,
        OpeningHours,
        Option,
        OptionGroup,
        Store,
        StoreDishOverride,
        Tag,
    )

    code = f"BENCH{dishes}"
    if Store.objects.filter(code=code).exists() and Dish.objects.filter(brand__code=f"bench{dishes}").count() == dishes:
        return code
    rng = random.Random(dishes)
    with transaction.atomic():
        # Tags and allergens are the shared vocabulary that migration stores/0002 creates.
        brand, _ = Brand.objects.get_or_create(code=f"bench{dishes}", defaults={"name": f"基准品牌 {dishes}"})
        store, _ = Store.objects.get_or_create(
            code=code,
            defaults={
                "brand": brand, "name": f"基准门店 {dishes}", "city": "上海", "district": "黄浦区",
                "address": "南京东路 1 号", "latitude": Decimal("31.230416"), "longitude": Decimal("121.473701"),
                "offers_delivery": True,
            },
        )
        if not store.opening_hours.exists():
            OpeningHours.objects.bulk_create(
                OpeningHours(brand=brand, store=store, weekday=day, opens=clock(10, 0), closes=clock(22, 0))
                for day in range(7)
            )
        categories = []
        for i in range(12):
            category, _ = MenuCategory.objects.get_or_create(
                brand=brand, code=f"cat{i:02d}",
                defaults={"name_zh": f"分类{i + 1}", "name_en": f"Category {i + 1}", "sort_order": i * 10},
            )
            categories.append(category)
        groups = []
        for i in range(6):
            group, created = OptionGroup.objects.get_or_create(
                brand=brand, code=f"grp{i}",
                defaults={"name_zh": f"选项组{i + 1}", "name_en": f"Group {i + 1}",
                          "min_choices": 0 if i == 5 else 1, "max_choices": 3 if i == 5 else 1, "sort_order": i},
            )
            if created:
                Option.objects.bulk_create(
                    Option(brand=brand, group=group, name_zh=f"选项{j + 1}", name_en=f"Option {j + 1}",
                           price_delta=Decimal(j * 2), is_default=j == 0, sort_order=j)
                    for j in range(3 + i % 4)
                )
            groups.append(group)
        existing = set(Dish.objects.filter(brand=brand).values_list("code", flat=True))
        new = [
            Dish(
                brand=brand, category=categories[i % len(categories)], code=f"B{i:05d}",
                name_zh=f"基准菜品{i}", name_en=f"Bench dish {i}",
                description_zh="用于性能测试的菜品。描述长度与真实菜单相当。" * 2,
                description_en="A dish for the benchmark, with a description as long as a real one. " * 2,
                price=Decimal(rng.randrange(800, 6800, 50)).scaleb(-2),
                kcal=rng.randint(80, 900), protein_g=Decimal(rng.randint(0, 400)).scaleb(-1),
                fat_g=Decimal(rng.randint(0, 400)).scaleb(-1), carbs_g=Decimal(rng.randint(0, 1200)).scaleb(-1),
                is_set_meal=i % 25 == 0, sort_order=i,
            )
            for i in range(dishes)
            if f"B{i:05d}" not in existing
        ]
        Dish.objects.bulk_create(new)
        tags, allergens = list(Tag.objects.all()), list(Allergen.objects.all())
        Dish.tags.through.objects.bulk_create(
            Dish.tags.through(dish_id=d.pk, tag_id=t.pk) for d in new for t in rng.sample(tags, rng.randint(0, 3))
        )
        Dish.allergens.through.objects.bulk_create(
            Dish.allergens.through(dish_id=d.pk, allergen_id=a.pk)
            for d in new
            for a in rng.sample(allergens, rng.randint(0, 3))
        )
        Dish.option_groups.through.objects.bulk_create(
            Dish.option_groups.through(dish_id=d.pk, optiongroup_id=g.pk)
            for d in new
            for g in rng.sample(groups, rng.randint(0, 3))
        )
        StoreDishOverride.objects.bulk_create(
            StoreDishOverride(
                brand=brand, store=store, dish=d,
                price=d.price + Decimal("2.00") if i % 3 == 0 else None,
                is_available=i % 3 != 1, stock=3 if i % 3 == 2 else None, daily_stock=20 if i % 3 == 2 else None,
            )
            for i, d in enumerate(new)
            if i % 10 == 0
        )
    return code


def analyze_menu_tables() -> None:
    """Planner statistics for the fresh rows, as autovacuum keeps them in production."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("stores_dish", "stores_dish_tags", "stores_dish_allergens", "stores_dish_option_groups",
                          "stores_menucategory", "stores_optiongroup", "stores_option", "stores_storedishoverride"):
                cursor.execute(f"ANALYZE {table}")


def main() -> int:
    args = parse_args()
    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()

    from django.core.cache import cache
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0, interactive=False)
    started = time.perf_counter()
    store_code = build_menu(args.dishes)
    built_in = time.perf_counter() - started
    analyze_menu_tables()

    client = Client(HTTP_ACCEPT_LANGUAGE=args.language)
    url = f"/api/v1/stores/{store_code}/menu/"
    response = client.get(url)
    if response.status_code != 200:
        print(f"GET {url} answered {response.status_code}: {response.content[:300]!r}", file=sys.stderr)
        return 1
    body = json.loads(response.content)
    dishes_served = sum(len(category["dishes"]) for category in body["categories"])
    for _ in range(args.warmup):
        client.get(url)
    if args.cold:
        cache.clear()
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    # Read it now: the next request's request_started signal empties connection.queries_log.
    query_count = len(queries)

    timings = []
    for _ in range(args.requests):
        if args.cold:
            cache.clear()
        t0 = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    p95 = percentile(timings, 95)

    print(f"menu API benchmark  GET {url}  ({connection.vendor}, database {connection.settings_dict['NAME']})")
    print(f"  dishes on the menu    {dishes_served} in {len(body['categories'])} categories "
          f"({len(response.content) / 1024:.0f} KiB of JSON; data ready in {built_in:.1f} s)")
    mode = "cold: cache emptied before each" if args.cold else "warm: brand menu cached"
    print(f"  requests              {args.requests} timed after {args.warmup} warm-up ({mode})")
    print(f"  SQL queries/request   {query_count}")
    print(f"  mean                  {statistics.fmean(timings):7.2f} ms")
    print(f"  p50                   {percentile(timings, 50):7.2f} ms")
    print(f"  p95                   {p95:7.2f} ms")
    print(f"  p99                   {percentile(timings, 99):7.2f} ms")
    print(f"  max                   {timings[-1]:7.2f} ms")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"  load average          {load} on {os.cpu_count()} CPUs (other work skews the figures)")
    verdict = "meets" if p95 < TARGET_P95_MS else "MISSES"
    print(f"  target p95 < {TARGET_P95_MS:.0f} ms: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
