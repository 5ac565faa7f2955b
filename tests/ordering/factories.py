"""Builders for ordering and payment tests: a small menu, orders and paid orders through services."""

from __future__ import annotations

from decimal import Decimal

from ordering.services import LineRequest, order_submit
from payments.services import gift_card_issue, payment_create
from stores.models import DiningTable
from tests.stores.factories import (
    DishFactory,
    MenuCategoryFactory,
    OptionFactory,
    OptionGroupFactory,
    StoreDishOverrideFactory,
)


class Menu:
    """Noodles 18.00 (a required spice choice: mild +0, hot +2; unlimited), dumplings 12.50
    (stock 10), tea 6.00 (a store price of 5.00, unlimited), and soup (switched off)."""

    def __init__(self, store):
        brand = store.brand
        category = MenuCategoryFactory(brand=brand)
        self.spice = OptionGroupFactory(brand=brand, code="spice", min_choices=1, max_choices=1)
        self.mild = OptionFactory(group=self.spice, name_zh="微辣", name_en="Mild", price_delta=Decimal("0.00"))
        self.hot = OptionFactory(group=self.spice, name_zh="特辣", name_en="Hot", price_delta=Decimal("2.00"))
        self.noodles = DishFactory(brand=brand, category=category, code="noodles", name_zh="牛肉面",
                                   name_en="Beef noodles", price=Decimal("18.00"), kcal=650)
        self.noodles.option_groups.add(self.spice)
        self.dumplings = DishFactory(brand=brand, category=category, code="dumplings", name_zh="水饺",
                                     name_en="Dumplings", price=Decimal("12.50"), kcal=420)
        self.tea = DishFactory(brand=brand, category=category, code="tea", name_zh="茶", name_en="Tea",
                               price=Decimal("6.00"))
        self.soup = DishFactory(brand=brand, category=category, code="soup", name_zh="汤", name_en="Soup",
                                price=Decimal("8.00"))
        self.dumplings_stock = StoreDishOverrideFactory(store=store, dish=self.dumplings, stock=10)
        StoreDishOverrideFactory(store=store, dish=self.tea, price=Decimal("5.00"))
        StoreDishOverrideFactory(store=store, dish=self.soup, is_available=False)
        self.table = DiningTable.objects.create(brand=brand, store=store, code="A1")


def submit(customer, store, menu, *, lines=None, key="", **kwargs):
    lines = lines if lines is not None else [
        LineRequest(dish_id=menu.noodles.pk, quantity=1, option_ids=(menu.hot.pk,)),
        LineRequest(dish_id=menu.dumplings.pk, quantity=2),
    ]
    kwargs.setdefault("fulfilment", "pickup")
    return order_submit(actor=customer, store=store, lines=lines, idempotency_key=key, **kwargs).order


def gift_card_for(customer, brand, amount="500.00", *, actor=None):
    return gift_card_issue(actor=actor, brand=brand, amount=Decimal(amount), owner=customer)


def paid_order(customer, store, menu, **kwargs):
    order = submit(customer, store, menu, **kwargs)
    card = gift_card_for(customer, store.brand)
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    order.refresh_from_db()
    return order
