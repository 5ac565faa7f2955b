"""Finished orders for the reports tests, inserted directly.

Why not through the ordering services: the figures depend on the business day, the local hour the
order was placed and its final status (including ``refunded``, which no service reaches yet: the
refunds app comes later), for days in the past. The services stamp "now" and walk the state machine
one step at a time; reports only read finished orders, so the tests write them finished, with the
same fields the services write (lines, totals, business day = local date of ``created_at``).
``tests/reports/test_rollups.py`` also checks an order placed and paid through the services.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Max

from ordering.models import Order, OrderLine, OrderStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")
_PAID = {OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY, OrderStatus.COMPLETED, OrderStatus.REFUNDED}


def finished_order(
    store, *, day: date, at: str, status: str, customer=None, lines: list[tuple] = (), unit_prices: dict | None = None,
) -> Order:
    """An order of ``store`` placed on ``day`` at local time ``at`` ("HH:MM"), now in ``status``.

    ``lines``: ``[(dish, quantity), ...]``, priced at the dish's price (or ``unit_prices[dish]``).
    """
    hour, minute = (int(part) for part in at.split(":"))
    created = datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI)
    number = (Order.objects.filter(store=store, business_date=day).aggregate(n=Max("number"))["n"] or 0) + 1
    priced = [(dish, quantity, (unit_prices or {}).get(dish, dish.price)) for dish, quantity in lines]
    subtotal = sum((price * quantity for _, quantity, price in priced), Decimal("0.00"))
    order = Order.objects.create(
        brand=store.brand, store=store, customer=customer, business_date=day, number=number, status=status,
        fulfilment="pickup", subtotal=subtotal, total=subtotal, created_at=created,
        expires_at=created + timedelta(minutes=15),
        paid_at=created + timedelta(minutes=1) if status in _PAID else None,
        cancelled_at=created + timedelta(minutes=15) if status == OrderStatus.CANCELLED else None,
        cancel_reason="expired" if status == OrderStatus.CANCELLED else "",
    )
    OrderLine.objects.bulk_create([
        OrderLine(
            brand=store.brand, order=order, dish=dish, dish_code=dish.code, name_zh=dish.name_zh,
            name_en=dish.name_en, base_price=price, unit_price=price, quantity=quantity,
            line_total=price * quantity, kcal=dish.kcal, position=position,
        )
        for position, (dish, quantity, price) in enumerate(priced)
    ])
    return order
