"""Order history for the demo (``manage.py seed_demo --history-days N``): the past N days of a
chain's busiest stores, so that the dashboards and the forecast have something to show.

What it looks like, and why:
- lunch (around 12:15) and dinner (around 18:30) peaks, some orders in between, all inside the
  store's opening hours;
- weekday effects: office stores are busy Monday to Friday and quiet at weekends, the others
  the other way round; set meals sell better on weekdays at office stores;
- per-store popularity (60 to 140 orders a day), per-dish popularity (a long tail: a few dishes
  sell most), a slow trend per store (-0.3% to +0.8% a day) and day-to-day noise;
- about 3% of orders were never paid (expired) and about 1.5% were paid and refunded in full
  before they were collected, each on a refund request with a reason (most often changed plans,
  then late, quality, wrong dish...); the rest were collected (completed). Kiosk orders have no
  customer to ask for a refund, so they are never refunded.

Every order is a finished fact: its lines snapshot the dish names and prices (the store's price),
each paid order has one succeeded payment (WeChat Pay or Alipay, kiosk orders at the counter), and
each refunded order a refunded payment with a succeeded refund of its whole amount, so that
``ordering.selectors.order_money`` gives paid = total and refunded = total for it; the refund is a
succeeded ``RefundRequest`` of the customer (whole order, its reason), paid out by one allocation
(that refund attempt), and the order's refund tally holds its total.

The rows are inserted with ``bulk_create`` in their final state. That is acceptable for seeded
history, and only there: no transition happens (nothing is paid, cooked or refunded now), so no
FSM guard, service, audit event or simple-history row belongs to it; going through the services
would replay ~100 000 state changes at the current time and take minutes. Order numbers come
from the per-store, per-day counter (``OrderNumberCounter``), reserved in one upsert per store and
day, so they never collide with a real order of that day.

Idempotent: history orders carry ``idempotency_scope="history"`` (key ``<store>:<day>:<number>``,
unique), and a (store, day) that already has history is skipped, so running it again writes
nothing, and running it the next day adds only the day that is new. Deterministic: each store and
day draws from its own seeded generator.
"""

from __future__ import annotations

import uuid
import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, connections, models, router, transaction

from config.money import money
from ordering.models import CancelReason, Order, OrderLine, OrderNumberCounter, OrderSource, OrderStatus
from payments.models import Payment, PaymentStatus, RefundAttempt, RefundAttemptStatus, RefundOrigin
from refunds.models import (
    OrderRefundTally,
    RefundAllocation,
    RefundReason,
    RefundRequest,
    RefundSource,
    RefundStatus,
)
from stores.demo_data import CITIES, SEED
from stores.models import Brand, Dish, FulfilmentMode, OpeningHours, Store, StoreDishOverride
from stores.selectors import STORE_TIMEZONE, local_now

HISTORY_SCOPE = "history"
DEFAULT_HISTORY_DAYS = 35
MAX_HISTORY_DAYS = 366
STORES_PER_CITY = 2  # SH001, SH002, BJ001, ... : 14 stores of the demo chain
BATCH_SIZE = 2000
CUSTOMER_POOL = 600
CUSTOMER_PHONE_PREFIX = "1700000"  # 1700000xxxx: virtual-operator numbers, demo only
PAY_DELAY_MINUTES = (0.3, 3.0)
PICKUP_DELAY_MINUTES = (2.0, 12.0)
EXPIRY_MINUTES = 15

# Weekday factors, Monday first.
OFFICE_WEEK = (1.12, 1.08, 1.10, 1.12, 1.18, 0.62, 0.55)
RESIDENTIAL_WEEK = (0.86, 0.84, 0.88, 0.92, 1.10, 1.38, 1.30)
# (share of orders, mean minute of the day, spread in minutes): lunch, dinner; the rest in between.
PEAKS = ((0.45, 12 * 60 + 15, 28), (0.40, 18 * 60 + 30, 38))
LINES_PER_ORDER = ((1, 2, 3, 4), (0.35, 0.35, 0.20, 0.10))
PORTIONS_PER_LINE = ((1, 2, 3), (0.86, 0.11, 0.03))
# Why customers asked for their money back, and how often.
REFUND_REASONS = (
    (RefundReason.CHANGED_PLANS, RefundReason.LATE, RefundReason.QUALITY, RefundReason.WRONG_DISH,
     RefundReason.MISSING_ITEM, RefundReason.TASTE, RefundReason.DUPLICATE, RefundReason.OTHER),
    (0.30, 0.18, 0.14, 0.10, 0.09, 0.08, 0.06, 0.05),
)


@dataclass
class HistoryResult:
    stores: int = 0
    days: int = 0  # (store, day) pairs written
    skipped: int = 0  # (store, day) pairs that already had history
    orders: int = 0
    lines: int = 0
    payments: int = 0
    refunds: int = 0
    refund_requests: int = 0
    customers: int = 0
    days_written: set[date] = field(default_factory=set)


def _seed(*parts) -> np.random.Generator:
    return np.random.default_rng([SEED, *(zlib.crc32(str(p).encode()) for p in parts)])


def history_store_codes(per_city: int = STORES_PER_CITY) -> list[str]:
    """The demo chain's first stores of every city (SH001, BJ001, ..., SH002, ...)."""
    return [f"{city.prefix}{index:03d}" for index in range(1, per_city + 1) for city in CITIES if index <= city.stores]


@dataclass
class _StoreProfile:
    store: Store
    base_orders: float
    week: tuple[float, ...]
    office: bool
    trend: float  # relative change per day
    dishes: list[Dish]
    prices: list[Decimal]
    weights: np.ndarray  # dish popularity at this store (sums to 1)
    set_meal: np.ndarray  # bool per dish
    periods: dict[int, list[tuple[int, int]]]  # weekday -> [(open minute, close minute)]
    regulars: np.ndarray  # indexes into the customer pool


def _periods(hours: list[OpeningHours]) -> dict[int, list[tuple[int, int]]]:
    """Opening periods per weekday in minutes of the day; one that runs past midnight ends at 24:00
    (history orders stay on their calendar day, which is their business day)."""
    periods: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
    for h in hours:
        opens = h.opens.hour * 60 + h.opens.minute
        closes = h.closes.hour * 60 + h.closes.minute
        periods[h.weekday].append((opens, closes if closes > opens else 24 * 60))
    for day in range(7):
        if not periods[day]:
            periods[day] = [(10 * 60, 21 * 60 + 30)]
    return periods


def _brand_popularity(brand: Brand, dishes: list[Dish]) -> np.ndarray:
    """A long tail: the dish at rank r sells like 1 / r^0.9 (the ranks shuffled once per brand)."""
    rng = _seed("popularity", brand.code)
    ranks = rng.permutation(len(dishes)) + 1
    return 1.0 / ranks**0.9


def _profile(store: Store, dishes: list[Dish], popularity: np.ndarray, overrides, hours) -> _StoreProfile:
    rng = _seed("store", store.code)
    office = bool(rng.random() < 0.5)
    by_dish = {o.dish_id: o for o in overrides}
    weights = popularity * np.exp(rng.normal(0.0, 0.35, len(dishes)))
    prices = []
    for i, dish in enumerate(dishes):
        override = by_dish.get(dish.pk)
        if override is not None and not override.is_available:
            weights[i] = 0.0
        prices.append(override.price if override is not None and override.price is not None else dish.price)
    return _StoreProfile(
        store=store,
        base_orders=float(rng.uniform(60, 140)),
        week=OFFICE_WEEK if office else RESIDENTIAL_WEEK,
        office=office,
        trend=float(rng.uniform(-0.003, 0.008)),
        dishes=dishes,
        prices=prices,
        weights=weights / weights.sum(),
        set_meal=np.array([d.is_set_meal for d in dishes], dtype=bool),
        periods=_periods(hours),
        regulars=rng.choice(CUSTOMER_POOL, size=60, replace=False),
    )


def _minutes(rng: np.random.Generator, n: int, periods: list[tuple[int, int]]) -> np.ndarray:
    """Minute of the day of ``n`` orders: lunch and dinner peaks, the rest spread over the hours."""
    shares = [share for share, _, _ in PEAKS]
    kind = rng.choice(len(PEAKS) + 1, size=n, p=[*shares, 1 - sum(shares)])
    minutes = np.empty(n)
    for k, (_share, centre, spread) in enumerate(PEAKS):
        mask = kind == k
        minutes[mask] = rng.normal(centre, spread, mask.sum())
    starts = np.array([p[0] for p in periods], dtype=float)
    lengths = np.array([p[1] - p[0] for p in periods], dtype=float)

    def uniform(count: int) -> np.ndarray:
        which = rng.choice(len(periods), size=count, p=lengths / lengths.sum())
        return starts[which] + rng.random(count) * lengths[which]

    off_peak = kind == len(PEAKS)
    minutes[off_peak] = uniform(off_peak.sum())
    inside = np.zeros(n, dtype=bool)
    for start, length in zip(starts, lengths, strict=True):
        inside |= (minutes >= start) & (minutes < start + length - 1)
    minutes[~inside] = uniform((~inside).sum())  # a peak the store is closed for goes elsewhere
    return np.sort(minutes)


def _reserve_numbers(store_id: int, day: date, count: int) -> int:
    """Reserve ``count`` order numbers of a store's day; returns the first (one upsert)."""
    table = OrderNumberCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (store_id, business_date, last_number) VALUES (%s, %s, %s) "  # noqa: S608
            f"ON CONFLICT (store_id, business_date) DO UPDATE SET last_number = {table}.last_number + %s "
            "RETURNING last_number",
            [store_id, day, count, count],
        )
        return cursor.fetchone()[0] - count + 1


def _customers() -> list[int]:
    """The pool of history customers (created once; they cannot log in)."""
    User = get_user_model()
    phones = [f"{CUSTOMER_PHONE_PREFIX}{i:04d}" for i in range(1, CUSTOMER_POOL + 1)]
    existing = dict(User.objects.filter(phone__in=phones).values_list("phone", "pk"))
    missing = [p for p in phones if p not in existing]
    if missing:
        unusable = make_password(None)
        User.objects.bulk_create(
            [User(phone=p, name=f"历史顾客{p[-4:]}", password=unusable) for p in missing], batch_size=BATCH_SIZE
        )
        existing = dict(User.objects.filter(phone__in=phones).values_list("phone", "pk"))
    return [existing[p] for p in phones]


# Values the database drivers take as they are (both backends adapt Decimal themselves).
_PLAIN = frozenset({int, str, bool, float, Decimal, type(None)})


def _insert(model, objs: list) -> None:
    """``bulk_create`` without its per-value compiler work: one ``executemany`` per batch.

    Django's ``bulk_create`` spends ~1 ms per order (its SQL compiler prepares every value of
    every row), which made a month of history take a minute on SQLite. This inserts the same
    columns, converting only the values that need it (UUIDs, decimals, datetimes, JSON) through
    the field itself, so the database sees exactly what ``bulk_create`` would send. Auto
    primary keys are left to the database (no object here needs its id afterwards).
    """
    if not objs:
        return
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
    db = connections[router.db_for_write(model)]  # the wrapper itself, not the thread-local proxy
    quote = db.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 - names from the model
        quote(model._meta.db_table), ", ".join(quote(f.column) for f in fields), ", ".join(["%s"] * len(fields))
    )
    native_uuid = db.features.has_native_uuid_field
    converters = {
        datetime: db.ops.adapt_datetimefield_value,
        uuid.UUID: (lambda v: v) if native_uuid else (lambda v: v.hex),
    }
    prep = [(f.attname, f.get_db_prep_save) for f in fields]
    rows = []
    for obj in objs:
        row = []
        for attname, prepare in prep:
            value = getattr(obj, attname)
            kind = type(value)
            if kind in _PLAIN:
                row.append(value)
            elif kind in converters:
                row.append(converters[kind](value))
            else:  # JSON
                row.append(prepare(value, db))
        rows.append(row)
    with db.cursor() as cursor:
        for start in range(0, len(rows), BATCH_SIZE):
            cursor.executemany(sql, rows[start : start + BATCH_SIZE])


class _Writer:
    """Collects rows and writes them in batches, orders before their lines and payments."""

    def __init__(self, result: HistoryResult):
        self.result = result
        self.orders: list[Order] = []
        self.lines: list[OrderLine] = []
        self.payments: list[Payment] = []
        self.refunds: list[RefundAttempt] = []
        self.requests: list[RefundRequest] = []
        self.allocations: list[RefundAllocation] = []
        self.tallies: list[OrderRefundTally] = []

    def flush(self, force: bool = False) -> None:
        if not force and len(self.orders) < BATCH_SIZE:
            return
        for model, rows in ((Order, self.orders), (OrderLine, self.lines), (Payment, self.payments),
                            (RefundAttempt, self.refunds), (RefundRequest, self.requests),
                            (RefundAllocation, self.allocations), (OrderRefundTally, self.tallies)):
            _insert(model, rows)
        self.result.orders += len(self.orders)
        self.result.lines += len(self.lines)
        self.result.payments += len(self.payments)
        self.result.refunds += len(self.refunds)
        self.result.refund_requests += len(self.requests)
        self.orders, self.lines, self.payments, self.refunds = [], [], [], []
        self.requests, self.allocations, self.tallies = [], [], []


def _store_day(writer: _Writer, profile: _StoreProfile, day: date, age: int, customers: list[int]) -> None:
    """The orders of one store on one day; ``age`` is how many days before today it was."""
    store = profile.store
    rng = _seed("day", store.code, day.isoformat())
    weekday = day.weekday()
    expected = profile.base_orders * profile.week[weekday] * (1 - profile.trend * age)
    expected *= float(np.exp(rng.normal(0.0, 0.06)))
    n = int(rng.poisson(max(expected, 0.0)))
    if n == 0:
        return
    first_number = _reserve_numbers(store.pk, day, n)
    minutes = _minutes(rng, n, profile.periods[weekday])
    weights = profile.weights
    if profile.office and weekday < 5:
        weights = weights * np.where(profile.set_meal, 1.3, 1.0)
        weights = weights / weights.sum()
    sizes = rng.choice(LINES_PER_ORDER[0], size=n, p=LINES_PER_ORDER[1])
    picks = rng.choice(len(profile.dishes), size=int(sizes.sum()), p=weights)
    portions = rng.choice(PORTIONS_PER_LINE[0], size=int(sizes.sum()), p=PORTIONS_PER_LINE[1])
    fate = rng.random(n)  # < 0.03 never paid, < 0.045 refunded, else collected
    channel_draw = rng.random(n)
    source_draw = rng.random(n)
    codes = rng.choice(900_000, size=n, replace=False) + 100_000  # pickup codes, unique per store and day
    regular = rng.random(n) < 0.4
    regular_pick = rng.choice(profile.regulars, size=n)
    anyone_pick = rng.choice(len(customers), size=n)
    delays = rng.uniform(0, 1, size=(n, 4))
    reasons = rng.choice(len(REFUND_REASONS[0]), size=n, p=REFUND_REASONS[1])  # drawn last: the rest stays
    start_local = datetime.combine(day, time(0, 0), tzinfo=STORE_TIMEZONE)
    offset = 0
    for i in range(n):
        created = start_local + timedelta(minutes=float(minutes[i]))
        # Where the order came from: table QR (dine-in stores), the kiosk, delivery, web/app pickup.
        table_code, address, fee, customer_id = "", "", Decimal("0.00"), None
        s = source_draw[i]
        if store.offers_dine_in and s < 0.25:
            source, fulfilment, table_code = OrderSource.TABLE, FulfilmentMode.DINE_IN, f"T{1 + int(s * 32):02d}"
        elif s < 0.35:
            source, fulfilment = OrderSource.KIOSK, FulfilmentMode.PICKUP
        elif store.offers_delivery and s < 0.50:
            source, fulfilment = OrderSource.WEB, FulfilmentMode.DELIVERY
            address, fee = f"{store.district}{store.address}附近", store.delivery_fee
        else:
            source, fulfilment = (OrderSource.API if s > 0.9 else OrderSource.WEB), FulfilmentMode.PICKUP
        if source != OrderSource.KIOSK:
            customer_id = customers[int(regular_pick[i] if regular[i] else anyone_pick[i])]
        number = first_number + i
        # The final state is given at construction (a protected status cannot be assigned later):
        # these orders are facts of the past, see the module docstring.
        if fate[i] < 0.03:
            status = OrderStatus.CANCELLED
        elif fate[i] < 0.045 and customer_id is not None:
            status = OrderStatus.REFUNDED
        else:
            status = OrderStatus.COMPLETED
        order = Order(
            brand_id=store.brand_id, store_id=store.pk, customer_id=customer_id, business_date=day, number=number,
            status=status, source=source, fulfilment=fulfilment, table_code=table_code, delivery_address=address,
            delivery_fee=fee, created_at=created, expires_at=created + timedelta(minutes=EXPIRY_MINUTES),
            idempotency_scope=HISTORY_SCOPE, idempotency_key=f"{store.code}:{day.isoformat()}:{number}",
        )
        # Lines: the same dish drawn twice in one order becomes one line with more portions.
        merged: dict[int, int] = {}
        for k in range(offset, offset + int(sizes[i])):
            merged[int(picks[k])] = merged.get(int(picks[k]), 0) + int(portions[k])
        offset += int(sizes[i])
        subtotal = Decimal("0.00")
        for position, (d, quantity) in enumerate(merged.items()):
            dish, price = profile.dishes[d], profile.prices[d]
            line_total = money(price * quantity)
            subtotal += line_total
            writer.lines.append(OrderLine(
                brand_id=store.brand_id, order_id=order.id, dish_id=dish.pk, dish_code=dish.code, name_zh=dish.name_zh,
                name_en=dish.name_en, base_price=dish.price, unit_price=price, quantity=quantity,
                line_total=line_total, kcal=dish.kcal, protein_g=dish.protein_g, fat_g=dish.fat_g,
                carbs_g=dish.carbs_g, is_set_meal=dish.is_set_meal, position=position,
            ))
        order.subtotal = money(subtotal)
        order.total = money(subtotal + fee)
        writer.orders.append(order)
        if status == OrderStatus.CANCELLED:
            order.cancel_reason = CancelReason.EXPIRED
            order.cancelled_at = order.expires_at
            continue
        paid = created + timedelta(minutes=PAY_DELAY_MINUTES[0] + delays[i, 0] * PAY_DELAY_MINUTES[1])
        order.paid_at = paid
        order.pickup_code = f"{int(codes[i]):06d}"
        order.started_at = paid + timedelta(minutes=1 + 3 * delays[i, 1])
        order.ready_at = order.started_at + timedelta(minutes=store.prep_time_minutes * (0.7 + 0.6 * delays[i, 2]))
        channel = "counter" if source == OrderSource.KIOSK else ("wechat" if channel_draw[i] < 0.6 else "alipay")
        payment = Payment(
            brand_id=store.brand_id, order_id=order.id, channel=channel, amount=order.total, created_at=created,
            status=PaymentStatus.REFUNDED if status == OrderStatus.REFUNDED else PaymentStatus.SUCCEEDED,
            succeeded_at=paid, finished_at=paid,
            provider_trade_no="" if channel == "counter" else f"HIST{order.id.hex[:24].upper()}",
            payer_account="" if channel == "counter" else f"{1000 + int(channel_draw[i] * 8999)}",
        )
        writer.payments.append(payment)
        if status == OrderStatus.REFUNDED:
            refunded = order.ready_at + timedelta(minutes=1 + 20 * delays[i, 3])
            attempt = RefundAttempt(
                brand_id=store.brand_id, payment_id=payment.id, out_refund_no=f"HISTR{order.id.hex[:24].upper()}",
                amount=order.total, status=RefundAttemptStatus.SUCCEEDED, origin=RefundOrigin.CUSTOMER,
                reason="demo history", created_at=refunded, succeeded_at=refunded, finished_at=refunded,
            )
            writer.refunds.append(attempt)
            request = RefundRequest(
                brand_id=store.brand_id, store_id=store.pk, order_id=order.id, customer_id=customer_id,
                requested_by_id=customer_id, source=RefundSource.CUSTOMER, status=RefundStatus.SUCCEEDED,
                amount=order.total, delivery_fee=fee, is_full=True, order_status=OrderStatus.READY,
                reason_code=REFUND_REASONS[0][int(reasons[i])], decision="demo history",
                created_at=refunded - timedelta(minutes=1), approved_at=refunded, submitted_at=refunded,
                finished_at=refunded,
            )
            writer.requests.append(request)
            writer.allocations.append(RefundAllocation(
                refund_id=request.id, payment_id=payment.id, amount=order.total, attempt_id=attempt.id,
                created_at=refunded,
            ))
            writer.tallies.append(OrderRefundTally(
                order_id=order.id, brand_id=store.brand_id, paid=order.total, committed=order.total,
                updated_at=refunded,
            ))
        else:
            order.completed_at = order.ready_at + timedelta(
                minutes=PICKUP_DELAY_MINUTES[0] + delays[i, 3] * PICKUP_DELAY_MINUTES[1]
            )


def history_generate(
    *, brand: Brand, days: int, store_codes: list[str] | None = None, today: date | None = None
) -> HistoryResult:
    """Orders of the ``days`` days before ``today`` (store local date) for the brand's stores
    named in ``store_codes`` (default: ``history_store_codes()``), skipping (store, day) pairs
    that already have history. One transaction; returns what it wrote."""
    if not 0 <= days <= MAX_HISTORY_DAYS:
        raise ValueError(f"history days must be 0..{MAX_HISTORY_DAYS}")
    result = HistoryResult()
    if days == 0:
        return result
    today = today or local_now().date()
    codes = store_codes if store_codes is not None else history_store_codes()
    stores = list(Store.objects.filter(brand=brand, code__in=codes).order_by("code"))
    dishes = list(Dish.objects.filter(brand=brand, is_active=True).order_by("code"))
    if not stores or not dishes:
        return result
    window = [today - timedelta(days=age) for age in range(days, 0, -1)]
    done = set(
        Order.objects.filter(
            idempotency_scope=HISTORY_SCOPE, store__in=stores, business_date__gte=window[0],
            business_date__lt=today,
        ).values_list("store_id", "business_date").distinct().order_by()
    )
    popularity = _brand_popularity(brand, dishes)
    overrides: dict[int, list] = {}
    for o in StoreDishOverride.objects.filter(store__in=stores):
        overrides.setdefault(o.store_id, []).append(o)
    hours: dict[int, list] = {}
    for h in OpeningHours.objects.filter(store__in=stores):
        hours.setdefault(h.store_id, []).append(h)
    with transaction.atomic():
        customers = _customers()
        writer = _Writer(result)
        for store in stores:
            profile = _profile(store, dishes, popularity, overrides.get(store.pk, []), hours.get(store.pk, []))
            for day in window:
                if (store.pk, day) in done:
                    result.skipped += 1
                    continue
                _store_day(writer, profile, day, (today - day).days, customers)
                result.days += 1
                result.days_written.add(day)
                writer.flush()
        writer.flush(force=True)
    result.stores = len(stores)
    result.customers = len(customers)
    return result
