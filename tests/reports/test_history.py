"""reports.history: seeded order history (seed_demo --history-days), idempotent and realistic."""

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Max, Sum

from ordering.models import Order, OrderLine, OrderNumberCounter, OrderSource, OrderStatus
from ordering.selectors import order_money
from payments.models import Payment, PaymentStatus
from refunds.models import OrderRefundTally, RefundReason, RefundRequest, RefundStatus
from reports.forms import ReportFilter
from reports.history import HISTORY_SCOPE, history_generate, history_store_codes
from reports.models import DishDaySales
from reports.selectors import refunds_by_reason, sales_total
from reports.services import rollups_refresh
from stores.models import Store
from stores.selectors import STORE_TIMEZONE

pytestmark = pytest.mark.django_db

TODAY = date(2026, 3, 9)  # a Monday


def test_history_is_idempotent_and_the_next_day_adds_only_that_day(store, menu):
    first = history_generate(brand=store.brand, days=7, store_codes=[store.code], today=TODAY)
    assert first.days == 7 and first.orders == Order.objects.count() > 0
    assert first.days_written == {TODAY - timedelta(days=n) for n in range(1, 8)}
    counts = (Order.objects.count(), OrderLine.objects.count(), Payment.objects.count())

    again = history_generate(brand=store.brand, days=7, store_codes=[store.code], today=TODAY)
    assert (again.days, again.orders, again.skipped) == (0, 0, 7)
    assert (Order.objects.count(), OrderLine.objects.count(), Payment.objects.count()) == counts

    later = history_generate(brand=store.brand, days=7, store_codes=[store.code], today=TODAY + timedelta(days=1))
    assert later.days_written == {TODAY}
    assert Order.objects.filter(business_date=TODAY).count() == later.orders > 0
    assert not Order.objects.exclude(idempotency_scope=HISTORY_SCOPE).exists()


def test_history_shows_lunch_and_dinner_peaks_and_stays_inside_opening_hours(store, menu):
    history_generate(brand=store.brand, days=14, store_codes=[store.code], today=TODAY)
    hours = Counter(o.created_at.astimezone(STORE_TIMEZONE).hour for o in Order.objects.only("created_at"))
    # the store has no opening hours recorded: 10:00-21:30 is assumed
    assert min(hours) >= 10 and max(hours) <= 21
    assert hours[12] > 3 * hours[15] and hours[18] > 3 * hours[15]
    assert hours[12] > 3 * hours[10] and hours[18] > 3 * hours[21]


def test_history_orders_are_consistent_money_facts(store, menu):
    history_generate(brand=store.brand, days=7, store_codes=[store.code], today=TODAY)
    orders = Order.objects.all()
    statuses = Counter(orders.values_list("status", flat=True))
    assert set(statuses) <= {OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REFUNDED}
    assert statuses[OrderStatus.COMPLETED] > 0.9 * orders.count()
    assert statuses[OrderStatus.CANCELLED] > 0 and statuses[OrderStatus.REFUNDED] > 0

    refunded = orders.filter(status=OrderStatus.REFUNDED).first()
    money = order_money(refunded)
    assert money.paid == money.refunded == refunded.total
    assert refunded.payments.get().status == PaymentStatus.REFUNDED
    completed = orders.filter(status=OrderStatus.COMPLETED).first()
    money = order_money(completed)
    assert (money.paid, money.refunded) == (completed.total, Decimal("0.00"))
    assert completed.completed_at > completed.ready_at > completed.started_at > completed.paid_at
    cancelled = orders.filter(status=OrderStatus.CANCELLED).first()
    assert not cancelled.payments.exists() and cancelled.cancel_reason == "expired"
    # the lines snapshot the store's price (tea costs 5.00 at SH001, 6.00 on the brand menu)
    tea = OrderLine.objects.filter(dish=menu.tea).first()
    assert (tea.unit_price, tea.base_price, tea.name_zh) == (Decimal("5.00"), Decimal("6.00"), "茶")
    assert not OrderLine.objects.filter(dish=menu.soup).exists()  # switched off at this store
    for order in orders.filter(status=OrderStatus.COMPLETED)[:20]:
        assert order.total == order.lines.aggregate(s=Sum("line_total"))["s"] + order.delivery_fee
    # numbers come from the store's daily counter
    day = TODAY - timedelta(days=1)
    top = orders.filter(business_date=day).aggregate(m=Max("number"))["m"]
    assert OrderNumberCounter.objects.get(store=store, business_date=day).last_number == top
    assert orders.filter(business_date=day).count() == top


def test_history_takes_numbers_after_the_real_orders_of_a_day(store, menu):
    day = TODAY - timedelta(days=1)
    OrderNumberCounter.objects.create(store=store, business_date=day, last_number=5)
    history_generate(brand=store.brand, days=1, store_codes=[store.code], today=TODAY)
    assert Order.objects.filter(business_date=day).order_by("number").first().number == 6


def test_history_stores_are_the_first_of_every_city():
    codes = history_store_codes()
    assert codes[:3] == ["SH001", "BJ001", "GZ001"] and "SH002" in codes and len(codes) == 14


def test_seed_demo_history_days_passes_through_the_signal_and_is_idempotent():
    out = StringIO()
    call_command("seed_demo", stores=1, history_days=3, force=True, stdout=out)
    sh001 = Store.objects.get(code="SH001")
    orders = Order.objects.filter(store=sh001, idempotency_scope=HISTORY_SCOPE)
    assert orders.count() > 0
    assert "history orders" in out.getvalue()
    # the rollups of those days were rebuilt: the dashboards and the forecast see them
    sold = DishDaySales.objects.filter(store=sh001).aggregate(s=Sum("quantity"))["s"]
    kept = OrderLine.objects.filter(order__in=orders.filter(status=OrderStatus.COMPLETED)).aggregate(
        s=Sum("quantity"))["s"]
    assert sold == kept
    count = orders.count()
    call_command("seed_demo", stores=1, history_days=3, force=True, stdout=StringIO())
    assert orders.count() == count
    with pytest.raises(CommandError, match="--history-days must be between 0 and 366"):
        call_command("seed_demo", stores=1, history_days=400, force=True, stdout=StringIO())


def test_seed_demo_default_history_days_comes_from_the_settings(settings):
    settings.DEMO_HISTORY_DAYS = 0
    call_command("seed_demo", stores=1, force=True, stdout=StringIO())
    assert not Order.objects.exists()
    settings.DEMO_HISTORY_DAYS = 2
    call_command("seed_demo", stores=1, force=True, stdout=StringIO())
    assert Order.objects.values("business_date").distinct().count() == 2


def test_history_refunds_are_refund_requests_with_reasons(store, menu):
    result = history_generate(brand=store.brand, days=28, store_codes=[store.code], today=TODAY)
    refunded = Order.objects.filter(status=OrderStatus.REFUNDED)
    assert result.refund_requests == refunded.count() == RefundRequest.objects.count() > 10
    assert not refunded.filter(source=OrderSource.KIOSK).exists()  # nobody to ask: never refunded
    for request in RefundRequest.objects.select_related("order")[:20]:
        order = request.order
        assert (request.status, request.is_full, request.amount) == (RefundStatus.SUCCEEDED, True, order.total)
        assert request.customer_id == request.requested_by_id == order.customer_id
        assert request.store_id == order.store_id and request.created_at > order.ready_at
        allocation = request.allocations.get()
        assert allocation.attempt.amount == request.amount and allocation.payment.order_id == order.id
        assert OrderRefundTally.objects.get(order=order).committed == order.total
    reasons = set(RefundRequest.objects.values_list("reason_code", flat=True))
    assert len(reasons) >= 4 and reasons <= set(RefundReason.values)

    start, end = TODAY - timedelta(days=28), TODAY - timedelta(days=1)
    rollups_refresh(start=start, end=end)
    flt = ReportFilter(brand=store.brand, start=start, end=end, store_ids=frozenset({store.pk}), all_stores=True,
                       whole_brand=True)
    rows = refunds_by_reason(flt)
    assert "" not in [row.reason_code for row in rows]  # every refund has its reason
    assert sum(row.refunds for row in rows) == refunded.count()
    assert sum(row.amount for row in rows) == sales_total(flt).refunded_amount == refunded.aggregate(
        s=Sum("total"))["s"]
