"""The payments chaos run: many orders paid through the sandbox while it misbehaves.

Used by the chaos test (small) and ``bench/chaos_payments.py`` (2,000 orders). The sandbox runs as
its own process with faults switched on (errors, dropped, duplicated and out-of-order
notifications, latency); its notifications reach the site under test over HTTP. This module plays
the customers and the periodic tasks, in this process, against the same database:

1. every order is paid with ``wechat`` or ``alipay`` (``payment_create``, as the pay page does);
   most payers confirm at the sandbox, some walk away, some try again after an error, and a few
   pay a second time with the other channel while the first is still being confirmed;
2. then the periodic work runs until nothing is left to settle: payments are asked about and
   closed when their time is up, refunds are asked about, unpaid orders expire;
3. the figures: every order paid exactly once or not at all, nothing stuck, the sandbox's
   captures minus refunds equal to our succeeded payments minus refunds, and reconciliation
   of the day with no unexplained mismatch.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import time as clock
from datetime import timedelta
from decimal import Decimal

import httpx
from django.db import close_old_connections, connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

CHANNELS = ("wechat", "alipay")
DEFAULT_FAULTS = {
    "error_rate": 0.2, "drop_rate": 0.1, "duplicate_rate": 0.1, "reorder_rate": 0.05, "reorder_max_seconds": 2,
    "latency_ms": [0, 40], "notify_backoff_scale": 0.05,
}


@dataclass
class World:
    store_id: int
    dish_id: int
    customer_ids: list[int]


@dataclass
class ChaosReport:
    orders: int = 0
    paid: int = 0
    not_paid: int = 0
    charged_twice: int = 0  # orders with more than one payment kept (must be 0)
    money_kept_on_unpaid: int = 0  # orders not paid that kept a payment (must be 0)
    stuck_payments: int = 0
    stuck_refunds: int = 0
    payments: Counter = field(default_factory=Counter)
    automatic_refunds: int = 0
    ours_captured: Decimal = Decimal("0.00")
    ours_refunded: Decimal = Decimal("0.00")
    sandbox_captured: Decimal = Decimal("0.00")
    sandbox_refunded: Decimal = Decimal("0.00")
    reconciliation_mismatches: int = 0
    reconciliation_unexplained: int = 0
    paying_seconds: float = 0.0
    settling_seconds: float = 0.0
    settle_rounds: int = 0

    @property
    def money_agrees(self) -> bool:
        return self.sandbox_captured - self.sandbox_refunded == self.ours_captured - self.ours_refunded

    @property
    def ok(self) -> bool:
        return (self.charged_twice == 0 and self.money_kept_on_unpaid == 0 and self.stuck_payments == 0
                and self.stuck_refunds == 0 and self.money_agrees and self.reconciliation_unexplained == 0
                and self.paid + self.not_paid == self.orders)

    def lines(self) -> list[str]:
        return [
            f"orders                      {self.orders}",
            f"  paid exactly once         {self.paid}",
            f"  not paid (expired)        {self.not_paid}",
            f"  charged twice             {self.charged_twice}",
            f"  unpaid but money kept     {self.money_kept_on_unpaid}",
            f"payments by status          {dict(sorted(self.payments.items()))}",
            f"  stuck (created/pending/unknown) {self.stuck_payments}",
            f"  refunded automatically    {self.automatic_refunds}",
            f"refunds not final           {self.stuck_refunds}",
            f"sandbox captured - refunded {self.sandbox_captured} - {self.sandbox_refunded} = "
            f"{self.sandbox_captured - self.sandbox_refunded}",
            f"ours    succeeded - refunded {self.ours_captured} - {self.ours_refunded} = "
            f"{self.ours_captured - self.ours_refunded}",
            f"  money agrees              {self.money_agrees}",
            f"reconciliation mismatches   {self.reconciliation_mismatches} "
            f"(unexplained {self.reconciliation_unexplained})",
            f"paying took {self.paying_seconds:.1f} s; settling {self.settling_seconds:.1f} s "
            f"in {self.settle_rounds} rounds",
            f"RESULT                      {'OK' if self.ok else 'FAILED'}",
        ]


def seed_world(*, customers: int = 20, brand_code: str = "chaos") -> World:
    """One brand with an all-day pickup store, a dish with a large stock, and customers."""
    from accounts.models import User
    from stores.models import Brand, Dish, MenuCategory, OpeningHours, Store, StoreDishOverride

    brand, _created = Brand.objects.get_or_create(code=brand_code, defaults={"name": "混沌支付"})
    store, _created = Store.objects.get_or_create(
        brand=brand, code=f"{brand_code.upper()[:8]}1",
        defaults={"name": "混沌门店", "city": "上海", "district": "黄浦区", "address": "南京东路 1 号",
                  "latitude": Decimal("31.230416"), "longitude": Decimal("121.473701"),
                  "offers_pickup": True, "is_open": True},
    )
    if not store.opening_hours.exists():
        OpeningHours.objects.bulk_create(  # 00:00-00:00: open all day
            OpeningHours(brand=brand, store=store, weekday=day, opens=clock(0, 0), closes=clock(0, 0))
            for day in range(7)
        )
    category, _created = MenuCategory.objects.get_or_create(brand=brand, code="mains",
                                                            defaults={"name_zh": "主食", "name_en": "Mains"})
    dish, _created = Dish.objects.get_or_create(brand=brand, code="CH1", defaults={
        "category": category, "name_zh": "牛肉面", "name_en": "Beef noodles", "price": Decimal("18.00")})
    StoreDishOverride.objects.get_or_create(brand=brand, store=store, dish=dish,
                                            defaults={"stock": 10_000_000})
    users = [User.objects.get_or_create(phone=f"1370{i:07d}", defaults={"name": f"顾客{i}"})[0]
             for i in range(1, customers + 1)]
    return World(store_id=store.pk, dish_id=dish.pk, customer_ids=[u.pk for u in users])


def _submit(world: World, customer, quantity: int):
    from ordering.services import LineRequest, order_submit
    from stores.models import Store

    store = Store.objects.select_related("brand").get(pk=world.store_id)
    return order_submit(actor=customer, store=store, fulfilment="pickup",
                        lines=[LineRequest(dish_id=world.dish_id, quantity=quantity)]).order


class Payer:
    """A customer at the sandbox's payer page (its load-test shortcut, ``/_sim/pay``)."""

    def __init__(self, sim_url: str):
        self.sim_url = sim_url.rstrip("/")
        self.local = threading.local()

    def confirm(self, out_trade_no: str) -> bool:
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = httpx.Client(timeout=10)
        for _attempt in range(5):
            try:
                response = client.post(f"{self.sim_url}/_sim/pay/{out_trade_no}", json={})
            except httpx.HTTPError:
                continue
            if response.status_code < 500:
                return response.status_code == 200
        return False


def _pay_one(world: World, index: int, payer: Payer, rng: random.Random, *, pay_share: float,
             second_share: float) -> None:
    from accounts.models import User
    from config.api import DomainError
    from payments.models import PaymentStatus
    from payments.services import payment_create

    try:
        customer = User.objects.get(pk=world.customer_ids[index % len(world.customer_ids)])
        order = _submit(world, customer, 1 + index % 3)
        channel = CHANNELS[index % 2]
        pays = rng.random() < pay_share
        second = rng.random() < second_share
        for _attempt in range(3):  # a payer whose first try got an error page tries again
            try:
                result = payment_create(actor=customer, order_id=order.pk, channel=channel)
            except DomainError:
                return
            if result.payment.status == PaymentStatus.PENDING and result.action.url:
                if pays:
                    payer.confirm(result.payment.out_trade_no)
                break
        if pays and second:  # a second tab: pays again with the other channel at once
            other = CHANNELS[(index + 1) % 2]
            try:
                result = payment_create(actor=customer, order_id=order.pk, channel=other)
            except DomainError:
                return
            if result.action.url:
                payer.confirm(result.payment.out_trade_no)
    finally:
        close_old_connections()


def pay_orders(world: World, *, orders: int, threads: int, sim_url: str, seed: int = 7, pay_share: float = 0.85,
               second_share: float = 0.05) -> float:
    started = time.monotonic()
    payer = Payer(sim_url)
    rngs = [random.Random(seed * 100_003 + i) for i in range(orders)]  # noqa: S311 - a simulation
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda i: _pay_one(world, i, payer, rngs[i], pay_share=pay_share, second_share=second_share),
                      range(orders)))
    connection.close()
    return time.monotonic() - started


def settle(*, sim_url: str, timeout: float = 300.0) -> tuple[float, int]:
    """Run the periodic work until no payment, refund or notification is left unsettled."""
    from ordering.services import orders_expire_due
    from payments.models import IN_FLIGHT, Payment, RefundAttempt, RefundAttemptStatus
    from payments.services.provider import payments_check_due
    from payments.services.refunding import refund_attempts_check_due

    started = time.monotonic()
    now = timezone.now()
    rounds = 0
    while time.monotonic() - started < timeout:
        rounds += 1
        now = max(now, timezone.now()) + timedelta(hours=1)  # every back-off and deadline is due
        payments_check_due(now=now, limit=10_000)
        refund_attempts_check_due(now=now, limit=10_000)
        orders_expire_due(now=now, limit=10_000)
        in_flight = Payment.objects.filter(status__in=IN_FLIGHT).count()
        unfinished = RefundAttempt.objects.filter(
            status__in=(RefundAttemptStatus.CREATED, RefundAttemptStatus.PROCESSING)).count()
        pending_notes = _sandbox_pending_notifications(sim_url)
        if in_flight == 0 and unfinished == 0 and pending_notes == 0:
            # Notifications already delivered may still be in the site's hands: one more round.
            time.sleep(0.5)
            orders_expire_due(now=now + timedelta(hours=1), limit=10_000)
            break
        time.sleep(0.3)
    return time.monotonic() - started, rounds


def _sandbox_pending_notifications(sim_url: str) -> int:
    try:
        summary = httpx.get(f"{sim_url.rstrip('/')}/_sim/summary", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return 1
    pending = 0
    for merchant in (summary.get("merchants") or {}).values():
        notes = merchant.get("notifications") or {}
        pending += int(notes.get("pending", 0) or 0)
    return pending


def _statement_totals(day) -> tuple[Decimal, Decimal]:
    from payments.gateways import GatewayError, GatewayUnavailable, registry

    captured = refunded = Decimal("0.00")
    for channel in CHANNELS:
        gateway = registry.get(channel)
        for _attempt in range(20):  # the sandbox answers 5xx a fifth of the time
            try:
                statement = gateway.statement(day)
                break
            except (GatewayUnavailable, GatewayError):
                time.sleep(0.05)
        else:
            raise RuntimeError(f"no statement from {channel} after 20 tries")
        captured += sum((line.amount for line in statement.captures), Decimal("0.00"))
        refunded += sum((line.amount for line in statement.refunds), Decimal("0.00"))
    return captured, refunded


def measure(world: World, *, days) -> ChaosReport:
    """The figures, from our database, the sandbox's statements and reconciliation."""
    from ordering.models import Order, OrderStatus
    from payments.models import Payment, RefundAttempt, RefundAttemptStatus

    report = ChaosReport()
    orders = Order.objects.filter(store_id=world.store_id).annotate(
        kept=Count("payments", filter=Q(payments__status="succeeded")),
    )
    for order in orders:
        report.orders += 1
        paid = order.status in (OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY, OrderStatus.COMPLETED)
        if paid and order.kept == 1:
            report.paid += 1
        elif not paid and order.kept == 0:
            report.not_paid += 1
        if order.kept > 1:
            report.charged_twice += 1
        if not paid and order.kept:
            report.money_kept_on_unpaid += 1
    payments = Payment.objects.filter(order__store_id=world.store_id)
    report.payments = Counter(payments.values_list("status", flat=True))
    report.stuck_payments = sum(report.payments[s] for s in ("created", "pending", "unknown"))
    refunds = RefundAttempt.objects.filter(payment__order__store_id=world.store_id)
    report.stuck_refunds = refunds.filter(status__in=(RefundAttemptStatus.CREATED,
                                                      RefundAttemptStatus.PROCESSING)).count()
    report.automatic_refunds = refunds.filter(origin__in=("duplicate", "late")).count()
    report.ours_captured = payments.filter(status__in=("succeeded", "refunded"), channel__in=CHANNELS).aggregate(
        s=Sum("amount"))["s"] or Decimal("0.00")
    report.ours_refunded = refunds.filter(status=RefundAttemptStatus.SUCCEEDED,
                                          payment__channel__in=CHANNELS).aggregate(s=Sum("amount"))["s"] or Decimal(
        "0.00")
    for day in days:
        captured, refunded = _statement_totals(day)
        report.sandbox_captured += captured
        report.sandbox_refunded += refunded
    try:
        from payments.services.reconciliation import reconcile_day
    except ImportError:  # pragma: no cover - reconciliation not installed
        return report
    for day in days:
        for channel in CHANNELS:
            for _attempt in range(20):  # a statement the sandbox failed to give is fetched again
                run = reconcile_day(channel=channel, day=day)
                if run.status != "error":
                    break
            else:
                raise RuntimeError(f"reconciliation of {channel} {day} kept failing: {run.error}")
            rows = run.mismatches.all()
            report.reconciliation_mismatches += rows.count()
            report.reconciliation_unexplained += rows.filter(explanation="").count()
    return report
