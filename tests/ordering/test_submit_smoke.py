from decimal import Decimal

import pytest

from ordering.models import OrderStatus
from stores.models import StoreDishOverride
from tests.ordering.factories import paid_order, submit

pytestmark = pytest.mark.django_db


def test_submit_prices_snapshot_and_reserves(customer, store, menu):
    order = submit(customer, store, menu)
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.total == Decimal("45.00")  # (18 + 2) + 2 x 12.50
    assert order.number == 1
    assert StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock == 8
    line = order.lines.get(dish_code="noodles")
    assert line.unit_price == Decimal("20.00") and line.options[0]["name_en"] == "Hot"


def test_paid_order_gets_pickup_code(customer, store, menu):
    order = paid_order(customer, store, menu)
    assert order.status == OrderStatus.PAID
    assert len(order.pickup_code) == 6
    assert order.payments.get().amount == Decimal("45.00")
