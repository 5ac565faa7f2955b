"""``manage.py seed_demo``: the demo chain, its 200 stores and menu, a canteen, demo logins.

Deterministic (one fixed seed per store) and idempotent: every row is keyed by a natural
code (brand, store, category, dish, option group code, phone). Whatever exists is left
alone, and rows that belong to a parent (opening hours and overrides of a store, options
of a group, tags/allergens/option groups of a dish, the assignment of a user) are only
written together with a parent created in the same run, so a second run writes nothing
and staff edits made in the demo survive ``make run``.

Fast enough to run on every ``make run``: bulk inserts in one transaction, with
simple-history's ``bulk_create_with_history`` so every store, dish, category, option
group and override still gets its "+" history row.
"""

import random
import time
from dataclasses import dataclass, field
from datetime import time as clock
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from simple_history.utils import bulk_create_with_history

from audit.security import security_reports_due
from audit.services import audit_record
from config.money import money
from stores import demo_data
from stores.cache import menu_changed
from stores.demo import demo_seeded
from stores.demo_data import CANTEEN, CHAIN, CITIES, DEFAULT_STORES, DEMO_PASSWORD, DEMO_USERS, BrandDef
from stores.models import (
    Allergen,
    Brand,
    DiningTable,
    Dish,
    MenuCategory,
    OpeningHours,
    Option,
    OptionGroup,
    StaffAssignment,
    Store,
    StoreDishOverride,
    Tag,
)

MICRO = Decimal("0.000001")
# Days of order history ``--history-days`` asks for by default (written by the reports app for the
# busiest demo stores; ~40 000 orders, a few seconds on SQLite). Enough for the forecast's backtest.
# ``DEMO_HISTORY_DAYS`` in the settings changes the default (the test settings: 0, so that tests
# seeding the demo do not write a month of orders they do not look at).
HISTORY_DAYS = 28
MAX_HISTORY_DAYS = 366


def default_history_days() -> int:
    return getattr(settings, "DEMO_HISTORY_DAYS", HISTORY_DAYS)
DELIVERY_FEE = Decimal("6.00")
TABLES_PER_STORE = 8
ORDINALS = ("", "二", "三", "四", "五", "六")

WEEKDAYS = range(0, 5)
WEEKEND = range(5, 7)
REGULAR_HOURS = {
    WEEKDAYS: ((clock(10, 0), clock(14, 0)), (clock(17, 0), clock(21, 30))),
    WEEKEND: ((clock(10, 0), clock(22, 0)),),
}
BREAKFAST_HOURS = {
    WEEKDAYS: ((clock(7, 0), clock(14, 0)), (clock(17, 0), clock(21, 30))),
    WEEKEND: ((clock(8, 0), clock(22, 0)),),
}
# Closes after midnight: a period that closes before it opens runs into the next day.
LATE_NIGHT_HOURS = {
    WEEKDAYS: ((clock(10, 0), clock(2, 0)),),
    WEEKEND: ((clock(9, 0), clock(3, 0)),),
}
CANTEEN_HOURS = {
    WEEKDAYS: ((clock(6, 30), clock(9, 0)), (clock(10, 30), clock(13, 0)), (clock(16, 30), clock(19, 0))),
    WEEKEND: ((clock(7, 0), clock(9, 0)), (clock(11, 0), clock(13, 0)), (clock(17, 0), clock(19, 0))),
}


@dataclass
class OverridePlan:
    dish_code: str
    price_delta: Decimal | None = None
    is_available: bool = True
    stock: int | None = None
    daily_stock: int | None = None


@dataclass
class StorePlan:
    code: str
    name: str
    city: str
    district: str
    address: str
    phone: str
    latitude: Decimal
    longitude: Decimal
    offers_pickup: bool
    offers_delivery: bool
    offers_dine_in: bool
    prep_time_minutes: int
    delivery_radius_km: Decimal
    is_open: bool
    hours: dict
    overrides: list[OverridePlan] = field(default_factory=list)


def _jitter(centre: str, rng: random.Random, spread: int = 12_000) -> Decimal:
    """A district centre moved by up to ``spread`` millionths of a degree (12 000 ~ 1.3 km)."""
    return (Decimal(centre) + Decimal(rng.randint(-spread, spread)).scaleb(-6)).quantize(MICRO)


def chain_store_plans(count: int) -> list[StorePlan]:
    """The first ``count`` chain stores, taken city by city in turn (SH001, BJ001, GZ001, ...)
    so that a small demo still spans every city. A store's data depends on its code only."""
    order = [
        (city, index)
        for index in range(1, max(c.stores for c in CITIES) + 1)
        for city in CITIES
        if index <= city.stores
    ]
    dish_codes = sorted(d.code for category in CHAIN.categories for d in category.dishes)
    dish_prices = {d.code: Decimal(d.price) for category in CHAIN.categories for d in category.dishes}
    plans = []
    for city, index in order[:count]:
        code = f"{city.prefix}{index:03d}"
        rng = random.Random(f"{demo_data.SEED}:{code}")  # noqa: S311 - demo data, not secrets
        district, street = city.locations[(index - 1) % len(city.locations)]
        branch = ORDINALS[(index - 1) // len(city.locations)]
        if index % 12 == 6:
            hours = LATE_NIGHT_HOURS
        elif index % 4 == 3:
            hours = BREAKFAST_HOURS
        else:
            hours = REGULAR_HOURS
        plan = StorePlan(
            code=code,
            name=f"{CHAIN.name}（{street}{branch}店）",
            city=city.name,
            district=district,
            address=f"{district}{street}{rng.randint(1, 999)}号",
            phone=f"{city.area_code}-{rng.randint(5000_0000, 6999_9999)}",
            latitude=_jitter(city.districts[district][0], rng),
            longitude=_jitter(city.districts[district][1], rng),
            offers_pickup=True,
            offers_delivery=index == 1 or rng.random() < 0.35,
            offers_dine_in=index <= 2 or rng.random() < 0.85,
            prep_time_minutes=rng.randint(10, 25),
            delivery_radius_km=Decimal(rng.choice(("3.00", "3.50", "4.00", "5.00"))),
            is_open=index != 15,  # a handful of stores switched off (SH015, BJ015, ...)
            hours=hours,
        )
        if code == "SH001" or rng.random() < 0.15:
            picked = rng.sample(dish_codes, 5)
            plan.overrides = [
                OverridePlan(picked[0], price_delta=Decimal(rng.choice(("2.00", "3.00", "-1.00", "5.00")))),
                OverridePlan(picked[1], is_available=False),
                OverridePlan(picked[2], stock=3, daily_stock=20),
                OverridePlan(picked[3], stock=rng.randint(6, 15), daily_stock=30),
                OverridePlan(picked[4], price_delta=Decimal("1.00"), stock=0, daily_stock=10),
            ]
            for item in plan.overrides:  # never below zero
                if item.price_delta is not None and dish_prices[item.dish_code] + item.price_delta < 0:
                    item.price_delta = Decimal("0.00")
        plans.append(plan)
    return plans


def canteen_store_plans() -> list[StorePlan]:
    return [
        StorePlan(
            code=code, name=name, city=demo_data.CANTEEN_CITY, district=district, address=address,
            phone="0571-8800" + code[-2:].rjust(4, "0"),
            latitude=Decimal(lat), longitude=Decimal(lng),
            offers_pickup=True, offers_delivery=False, offers_dine_in=True,
            prep_time_minutes=5, delivery_radius_km=Decimal("0.00"), is_open=True, hours=CANTEEN_HOURS,
        )
        for code, name, district, address, lat, lng in demo_data.CANTEEN_STORES
    ]


class Seeder:
    """Creates whatever of the demo is missing; ``created`` counts what it wrote."""

    def __init__(self, *, stores: int, history_days: int = 0):
        self.store_count = stores
        self.history_days = history_days
        self.created: dict[str, int] = {}
        self.menu_brand_ids: set[int] = set()  # brands whose menu rows this run created
        self._password_hash: str | None = None

    def _count(self, key: str, n: int) -> None:
        if n:
            self.created[key] = self.created.get(key, 0) + n

    def run(self) -> dict[str, int]:
        tags, allergens = self._vocabulary()
        chain = self._brand(CHAIN)
        canteen = self._brand(CANTEEN)
        chain_dishes = self._menu(chain, CHAIN, tags, allergens)
        self._menu(canteen, CANTEEN, tags, allergens)
        chain_stores = self._stores(chain, chain_store_plans(self.store_count), chain_dishes)
        canteen_stores = self._stores(canteen, canteen_store_plans(), {})
        self._users({chain.code: (chain, chain_stores), canteen.code: (canteen, canteen_stores)})
        self._tables([*chain_stores.values(), *canteen_stores.values()])
        demo_seeded.send(sender=Seeder, count=self._count, history_days=self.history_days)
        for brand_id in sorted(self.menu_brand_ids):
            # bulk_create sends no signals: drop the brand's cached menu ourselves (on commit).
            menu_changed(brand_id)
        if self.created:
            audit_record(
                action="demo.seeded",
                reason="manage.py seed_demo",
                data={"created": self.created, "stores_requested": self.store_count},
            )
        return self.created

    # --- vocabulary and brands -------------------------------------------------------

    def _vocabulary(self) -> tuple[dict[str, Tag], dict[str, Allergen]]:
        """Tags and allergens come from migration stores/0002; the demo menu only refers to them."""
        return {t.code: t for t in Tag.objects.all()}, {a.code: a for a in Allergen.objects.all()}

    def _brand(self, definition: BrandDef) -> Brand:
        brand, created = Brand.objects.get_or_create(
            code=definition.code, defaults={"name": definition.name, "kind": definition.kind}
        )
        self._count("brands", int(created))
        return brand

    # --- menu ------------------------------------------------------------------------

    def _menu(self, brand: Brand, definition: BrandDef, tags, allergens) -> dict[str, Dish]:
        categories = self._categories(brand, definition)
        groups = self._option_groups(brand, definition)
        return self._dishes(brand, definition, categories, groups, tags, allergens)

    def _categories(self, brand: Brand, definition: BrandDef) -> dict[str, MenuCategory]:
        existing = {c.code: c for c in MenuCategory.objects.filter(brand=brand)}
        new = [
            MenuCategory(brand=brand, code=c.code, name_zh=c.name_zh, name_en=c.name_en, sort_order=(i + 1) * 10)
            for i, c in enumerate(definition.categories)
            if c.code not in existing
        ]
        if new:
            bulk_create_with_history(new, MenuCategory)
            self.menu_brand_ids.add(brand.pk)
            self._count("menu categories", len(new))
            existing.update({c.code: c for c in new})
        return existing

    def _option_groups(self, brand: Brand, definition: BrandDef) -> dict[str, OptionGroup]:
        existing = {g.code: g for g in OptionGroup.objects.filter(brand=brand)}
        defs = [g for g in definition.option_groups if g.code not in existing]
        new = [
            OptionGroup(
                brand=brand, code=g.code, name_zh=g.name_zh, name_en=g.name_en,
                min_choices=g.min_choices, max_choices=g.max_choices, sort_order=(i + 1) * 10,
            )
            for i, g in enumerate(defs)
        ]
        if new:
            bulk_create_with_history(new, OptionGroup)
            self.menu_brand_ids.add(brand.pk)
            options = [
                Option(
                    brand=brand, group=group, name_zh=zh, name_en=en, price_delta=Decimal(delta),
                    is_default=default, sort_order=(j + 1) * 10,
                )
                for g, group in zip(defs, new, strict=True)
                for j, (zh, en, delta, default) in enumerate(g.options)
            ]
            Option.objects.bulk_create(options)
            self._count("option groups", len(new))
            self._count("options", len(options))
            existing.update({g.code: g for g in new})
        return existing

    def _dishes(self, brand, definition: BrandDef, categories, groups, tags, allergens) -> dict[str, Dish]:
        existing = {d.code: d for d in Dish.objects.filter(brand=brand)}
        defs, new = [], []
        for category in definition.categories:
            for position, d in enumerate(category.dishes):
                if d.code in existing:
                    continue
                defs.append(d)
                new.append(Dish(
                    brand=brand, category=categories[category.code], code=d.code,
                    name_zh=d.name_zh, name_en=d.name_en,
                    description_zh=d.description_zh, description_en=d.description_en,
                    price=Decimal(d.price), kcal=d.kcal, protein_g=Decimal(d.protein_g),
                    fat_g=Decimal(d.fat_g), carbs_g=Decimal(d.carbs_g),
                    is_set_meal=d.is_set_meal, sort_order=(position + 1) * 10,
                ))
        if not new:
            return existing
        bulk_create_with_history(new, Dish)
        self.menu_brand_ids.add(brand.pk)
        # The creation history row of each dish also records its tags and allergens.
        history_ids = dict(
            Dish.history.filter(id__in=[d.pk for d in new], history_type="+").values_list("id", "history_id")
        )
        links = (
            ("tags", "tag", tags, lambda d: d.tags),
            ("allergens", "allergen", allergens, lambda d: d.allergens),
            ("option_groups", "optiongroup", groups, lambda d: d.option_groups),
        )
        for field_name, fk, vocabulary, codes_of in links:
            through = getattr(Dish, field_name).through
            rows = [
                through(**{"dish_id": dish.pk, f"{fk}_id": vocabulary[code].pk})
                for d, dish in zip(defs, new, strict=True)
                for code in codes_of(d)
            ]
            rows = through.objects.bulk_create(rows)  # with their ids (PostgreSQL, SQLite >= 3.35)
            self._count(f"dish {field_name.replace('_', ' ')}", len(rows))
            if field_name in ("tags", "allergens"):
                historical = apps.get_model("stores", f"HistoricalDish_{field_name}")
                historical.objects.bulk_create([
                    historical(**{"id": row.pk, "history_id": history_ids[row.dish_id], "dish_id": row.dish_id,
                                  f"{fk}_id": getattr(row, f"{fk}_id")})
                    for row in rows
                ])
        self._count("dishes", len(new))
        existing.update({d.code: d for d in new})
        return existing

    # --- stores ----------------------------------------------------------------------

    def _stores(self, brand: Brand, plans: list[StorePlan], dishes: dict[str, Dish]) -> dict[str, Store]:
        existing = {s.code: s for s in Store.objects.filter(brand=brand)}
        new_plans = [p for p in plans if p.code not in existing]
        taken = set(Store.objects.filter(code__in=[p.code for p in new_plans]).values_list("code", flat=True))
        if taken:  # store codes are unique across brands
            raise CommandError(f"Store codes already used by another brand: {', '.join(sorted(taken))}")
        new = [
            Store(
                brand=brand, code=p.code, name=p.name, city=p.city, district=p.district, address=p.address,
                phone=p.phone, latitude=p.latitude, longitude=p.longitude, offers_pickup=p.offers_pickup,
                offers_delivery=p.offers_delivery, offers_dine_in=p.offers_dine_in,
                prep_time_minutes=p.prep_time_minutes, delivery_radius_km=p.delivery_radius_km,
                delivery_fee=DELIVERY_FEE if p.offers_delivery else Decimal("0.00"), is_open=p.is_open,
            )
            for p in new_plans
        ]
        if not new:
            return existing
        bulk_create_with_history(new, Store)
        hours = [
            OpeningHours(brand=brand, store=store, weekday=day, opens=opens, closes=closes)
            for p, store in zip(new_plans, new, strict=True)
            for days, periods in p.hours.items()
            for day in days
            for opens, closes in periods
        ]
        OpeningHours.objects.bulk_create(hours)
        overrides = []
        for p, store in zip(new_plans, new, strict=True):
            for o in p.overrides:
                dish = dishes.get(o.dish_code)
                if dish is None:
                    continue
                overrides.append(StoreDishOverride(
                    brand=brand, store=store, dish=dish,
                    price=None if o.price_delta is None else money(dish.price + o.price_delta),
                    is_available=o.is_available, stock=o.stock, daily_stock=o.daily_stock,
                ))
        if overrides:
            bulk_create_with_history(overrides, StoreDishOverride)
        self._count("stores", len(new))
        self._count("opening hours", len(hours))
        self._count("store dish overrides", len(overrides))
        existing.update({s.code: s for s in new})
        return existing

    def _tables(self, stores: list[Store]) -> None:
        """Tables T01..T08 for every dine-in store that has none yet (their QR codes print from the admin)."""
        dine_in = [s for s in stores if s.offers_dine_in]
        with_tables = set(DiningTable.objects.filter(store__in=dine_in).values_list("store_id", flat=True))
        tables = [
            DiningTable(brand_id=store.brand_id, store=store, code=f"T{n:02d}", seats=2 if n <= 2 else 4)
            for store in dine_in
            if store.pk not in with_tables
            for n in range(1, TABLES_PER_STORE + 1)
        ]
        DiningTable.objects.bulk_create(tables)
        self._count("tables", len(tables))

    # --- users -----------------------------------------------------------------------

    def _users(self, brands: dict[str, tuple[Brand, dict[str, Store]]]) -> None:
        User = get_user_model()
        existing = set(User.objects.filter(phone__in=[u.phone for u in DEMO_USERS]).values_list("phone", flat=True))
        for spec in DEMO_USERS:
            if spec.phone in existing:
                continue  # never touch an existing account (its password may have been changed)
            if spec.is_customer:
                User.objects.create_user(spec.phone, None, name=spec.name, role=spec.role)
            elif spec.superuser:
                user = User.objects.create_superuser(spec.phone, None, name=spec.name, role=spec.role)
            else:
                user = User.objects.create_user(spec.phone, None, name=spec.name, role=spec.role, is_staff=True)
            if not spec.is_customer:
                # One hash for every demo staff account: PBKDF2 is deliberately slow.
                if self._password_hash is None:
                    from django.contrib.auth.hashers import make_password

                    self._password_hash = make_password(DEMO_PASSWORD)
                user.password = self._password_hash
                user.save(update_fields=["password"])
            if spec.brand:
                brand, stores = brands[spec.brand]
                assignment = StaffAssignment.objects.create(user=user, brand=brand)
                codes = sorted(stores) if spec.stores == ("*",) else spec.stores
                assignment.stores.set([stores[c] for c in codes if c in stores])
                self._count("staff assignments", 1)
            self._count("users", 1)


def login_rows() -> list[tuple[str, str, str, str]]:
    rows = []
    for spec in DEMO_USERS:
        if spec.is_customer:
            rows.append((spec.label, spec.phone, "SMS code (appears in the server console)", "/accounts/login/"))
        else:
            rows.append((spec.label, spec.phone, DEMO_PASSWORD, spec.where))
    return rows


def _width(text: str) -> int:
    """Display width: CJK characters take two columns in a terminal."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


class Command(BaseCommand):
    help = (
        "Load the demo: a chain with 200 stores in 7 cities, its menu, a canteen brand and demo logins. "
        "Safe to run again: what exists is left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stores", type=int, default=DEFAULT_STORES,
            help=f"how many chain stores (1-{DEFAULT_STORES}, default {DEFAULT_STORES})",
        )
        parser.add_argument(
            "--history-days", type=int, default=default_history_days(),
            help=f"days of past orders for the busiest demo stores, for the dashboards and the forecast "
            f"(0-{MAX_HISTORY_DAYS}, default {default_history_days()}; days that already have history are "
            f"left alone)",
        )
        parser.add_argument("--quiet", action="store_true", help="print nothing")
        parser.add_argument(
            "--force", action="store_true",
            help="load the demo even though DEBUG is off (never on a real deployment)",
        )

    def handle(
        self, *args, stores: int, quiet: bool, force: bool = False, history_days: int | None = None, **options
    ):
        if history_days is None:
            history_days = default_history_days()
        if not (settings.DEBUG or force):
            raise CommandError(
                "seed_demo creates demo logins with a published password, including a superuser, so it only "
                "runs with DEBUG on (the local settings that `make run` uses). This looks like a real "
                "deployment: nothing was written. Pass --force to load the demo anyway."
            )
        if not 1 <= stores <= DEFAULT_STORES:
            raise CommandError(f"--stores must be between 1 and {DEFAULT_STORES}.")
        if not 0 <= history_days <= MAX_HISTORY_DAYS:
            raise CommandError(f"--history-days must be between 0 and {MAX_HISTORY_DAYS}.")
        started = time.perf_counter()
        with transaction.atomic():
            created = Seeder(stores=stores, history_days=history_days).run()
        if created:
            # The first security reports (the platform's, each brand's), so that HQ has one to read
            # at once rather than after the hourly task's first run.
            security_reports_due()
        elapsed = time.perf_counter() - started
        if quiet or options.get("verbosity", 1) == 0:
            return
        if created:
            summary = ", ".join(f"{n} {what}" for what, n in created.items())
            self.stdout.write(self.style.SUCCESS(f"Demo data created in {elapsed:.1f} s: {summary}."))
        else:
            self.stdout.write(f"Demo data already present: nothing created ({elapsed:.1f} s).")
        self._print_logins()

    def _print_logins(self) -> None:
        header = ("who", "phone", "password / how to log in", "where")
        rows = [header, *login_rows()]
        widths = [max(_width(row[i]) for row in rows) for i in range(len(header))]
        self.stdout.write("")
        self.stdout.write("Demo logins")
        for row in rows:
            self.stdout.write("  " + "  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip())
        self.stdout.write(self.style.WARNING(
            f"The password {DEMO_PASSWORD} is for this demo only: never use it on a real deployment."
        ))
