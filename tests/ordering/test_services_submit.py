"""order_submit: pricing, line snapshots, numbering, every refusal (nothing written), idempotency."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.services import user_freeze
from audit.models import AuditEvent
from ordering.errors import AccountFrozen, IdempotencyConflict, OrderInvalid, OutsideDeliveryArea, StoreClosed
from ordering.models import Order, OrderLine, OrderNumberCounter, OrderSource, OrderStatus
from ordering.services import LineRequest, order_submit
from stores.models import FulfilmentMode, OpeningHours, StoreDishOverride
from stores.services import SoldOut
from tests.accounts.factories import UserFactory
from tests.ordering.factories import submit
from tests.stores.factories import DishFactory, OptionFactory, OptionGroupFactory

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_NOON = datetime(2025, 3, 3, 12, 0, tzinfo=SHANGHAI)  # a Monday


def _noodles(menu, *options, quantity=1):
    return LineRequest(dish_id=menu.noodles.pk, quantity=quantity, option_ids=tuple(o.pk for o in options))


def _stock(menu) -> int:
    return StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock


def _written(menu):
    """Everything order_submit may write: orders, lines, counters, stock, order audit events."""
    return (
        Order.objects.count(),
        OrderLine.objects.count(),
        OrderNumberCounter.objects.count(),
        _stock(menu),
        AuditEvent.objects.filter(action__startswith="order.").count(),
    )


# --- Pricing and snapshots ---


def test_prices_with_option_deltas_and_store_price(customer, store, menu):
    result = order_submit(
        actor=customer, store=store, fulfilment="pickup",
        lines=[
            _noodles(menu, menu.hot, quantity=2),  # (18.00 + 2.00) x 2
            _noodles(menu, menu.mild),  # 18.00 + 0.00
            LineRequest(dish_id=menu.tea.pk, quantity=3),  # store price 5.00 (brand 6.00) x 3
            LineRequest(dish_id=menu.dumplings.pk, quantity=1),  # 12.50
        ],
    )
    order = result.order
    assert result.created is True
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.subtotal == Decimal("85.50")
    assert order.delivery_fee == Decimal("0.00")
    assert order.total == Decimal("85.50")
    assert [(line.dish_code, line.unit_price, line.line_total) for line in order.lines.all()] == [
        ("noodles", Decimal("20.00"), Decimal("40.00")),
        ("noodles", Decimal("18.00"), Decimal("18.00")),
        ("tea", Decimal("5.00"), Decimal("15.00")),
        ("dumplings", Decimal("12.50"), Decimal("12.50")),
    ]
    tea = order.lines.get(dish_code="tea")
    assert tea.base_price == Decimal("5.00")
    assert order.customer == customer and order.contact_phone == customer.phone
    assert order.expires_at == order.created_at + timedelta(minutes=store.brand.order_expiry_minutes)
    assert _stock(menu) == 9


def test_lines_are_snapshots_of_the_dish_when_ordered(customer, store, menu):
    order = submit(customer, store, menu)
    menu.noodles.price = Decimal("30.00")
    menu.noodles.name_zh, menu.noodles.name_en, menu.noodles.kcal = "新面", "New noodles", 1
    menu.noodles.save()
    menu.hot.price_delta = Decimal("9.00")
    menu.hot.save()

    line = OrderLine.objects.get(order=order, dish_code="noodles")
    assert (line.name_zh, line.name_en) == ("牛肉面", "Beef noodles")
    assert (line.base_price, line.unit_price, line.quantity, line.line_total) == (
        Decimal("18.00"), Decimal("20.00"), 1, Decimal("20.00"),
    )
    assert line.options == [{
        "option": menu.hot.pk, "group": "辣度", "name_zh": "特辣", "name_en": "Hot", "price_delta": "2.00",
    }]
    assert line.kcal == 650
    assert (line.protein_g, line.fat_g, line.carbs_g) == (Decimal("22.5"), Decimal("18.0"), Decimal("60.0"))
    assert line.is_set_meal is False and line.position == 0
    assert line.dish_id == menu.noodles.pk
    dumplings = OrderLine.objects.get(order=order, dish_code="dumplings")
    assert (dumplings.quantity, dumplings.options, dumplings.kcal, dumplings.position) == (2, [], 420, 1)
    assert Order.objects.get(pk=order.pk).total == Decimal("45.00")


def test_line_names_follow_the_language(customer, store, menu, english):
    order = submit(customer, store, menu)
    line = order.lines.get(dish_code="noodles")
    assert line.name == "Beef noodles"
    assert line.option_names == ["Hot"]


def test_delivery_adds_the_store_fee_and_records_the_distance(customer, store, menu):
    store.offers_delivery = True
    store.delivery_fee = Decimal("6.00")
    store.save()
    order = submit(
        customer, store, menu, fulfilment=FulfilmentMode.DELIVERY, address="  人民广场 1 号 ",
        latitude=Decimal("31.240400"), longitude=Decimal("121.473700"),
    )
    assert order.subtotal == Decimal("45.00")
    assert order.delivery_fee == Decimal("6.00")
    assert order.total == Decimal("51.00")
    assert order.delivery_address == "人民广场 1 号"
    assert order.delivery_latitude == Decimal("31.240400")
    assert Decimal("1.0") < order.delivery_distance_km < Decimal("1.2")


def test_pickup_pays_no_delivery_fee(customer, store, menu):
    store.offers_delivery = True
    store.delivery_fee = Decimal("6.00")
    store.save()
    order = submit(customer, store, menu, address="ignored")
    assert (order.delivery_fee, order.total, order.delivery_address) == (Decimal("0.00"), Decimal("45.00"), "")


def test_dine_in_records_the_table(customer, store, menu):
    order = submit(customer, store, menu, fulfilment=FulfilmentMode.DINE_IN, table=" A1 ", source=OrderSource.TABLE)
    assert (order.table_code, order.fulfilment, order.source) == ("A1", "dine_in", "table")
    assert order.delivery_fee == Decimal("0.00")


def test_numbers_count_per_store_and_restart_the_next_day(customer, store, menu, brand):
    from tests.stores.factories import StoreFactory

    other = StoreFactory(brand=brand, code="SH002")
    day1 = MONDAY_NOON
    first = submit(customer, store, menu, now=day1)
    second = submit(customer, store, menu, now=day1 + timedelta(hours=2))
    elsewhere = submit(customer, other, menu, lines=[LineRequest(dish_id=menu.tea.pk, quantity=1)], now=day1)
    third = submit(customer, store, menu, now=day1 + timedelta(hours=11, minutes=59))  # 23:59 local
    next_day = submit(customer, store, menu, now=day1 + timedelta(hours=12))  # 00:00 local, Tuesday

    assert [first.number, second.number, third.number] == [1, 2, 3]
    assert elsewhere.number == 1
    assert next_day.number == 1
    assert first.display_number == "001"
    assert first.business_date == third.business_date == day1.date()
    assert next_day.business_date == day1.date() + timedelta(days=1)
    assert next_day.created_at == day1 + timedelta(hours=12)


def test_business_day_is_the_store_local_day(customer, store, menu):
    # 17:00 UTC on 3 March is 01:00 on 4 March in Shanghai.
    utc = datetime(2025, 3, 3, 17, 0, tzinfo=ZoneInfo("UTC"))
    order = submit(customer, store, menu, now=utc)
    assert order.business_date.isoformat() == "2025-03-04"


def test_kiosk_order_without_a_customer(store, menu):
    result = order_submit(
        actor=None, store=store, fulfilment="pickup", source=OrderSource.KIOSK,
        lines=[LineRequest(dish_id=menu.tea.pk, quantity=1)], idempotency_key="kiosk-1",
    )
    order = result.order
    assert order.customer is None and order.source == "kiosk" and order.total == Decimal("5.00")
    assert order.idempotency_scope == f"kiosk:{store.pk}"
    again = order_submit(
        actor=None, store=store, fulfilment="pickup", source=OrderSource.KIOSK,
        lines=[LineRequest(dish_id=menu.tea.pk, quantity=1)], idempotency_key="kiosk-1",
    )
    assert again.order.pk == order.pk and again.created is False


def test_submit_writes_history_and_an_audit_event(customer, store, menu):
    order = submit(customer, store, menu, ip="203.0.113.5")
    record = order.history.get()
    assert record.history_type == "+" and record.history_user == customer
    event = AuditEvent.objects.get(action="order.submitted")
    assert event.object_id == str(order.pk)
    assert event.actor_id == customer.pk and event.amount == Decimal("45.00") and event.ip == "203.0.113.5"
    assert event.data["stock_reserved"] == {str(menu.noodles.pk): 1, str(menu.dumplings.pk): 2}
    assert event.data["stock_left"][str(menu.dumplings.pk)] == 8


def test_same_dish_on_two_lines_reserves_the_sum(customer, store, menu):
    submit(customer, store, menu, lines=[
        LineRequest(dish_id=menu.dumplings.pk, quantity=4), LineRequest(dish_id=menu.dumplings.pk, quantity=6),
    ])
    assert _stock(menu) == 0
    with pytest.raises(SoldOut):
        submit(customer, store, menu, lines=[LineRequest(dish_id=menu.dumplings.pk, quantity=1)])


def test_opening_hours_allow_orders_inside_them(customer, store, menu):
    OpeningHours.objects.create(brand=store.brand, store=store, weekday=0, opens=time(10), closes=time(14))
    order = submit(customer, store, menu, now=MONDAY_NOON)
    assert order.number == 1


# --- Refusals: each with its error, nothing written ---


def _other_brand_dish(menu, other_brand):
    return [LineRequest(dish_id=DishFactory(brand=other_brand).pk, quantity=1)]


def _inactive_dish(menu, other_brand):
    dish = DishFactory(brand=menu.noodles.brand, category=menu.noodles.category, is_active=False)
    return [LineRequest(dish_id=dish.pk, quantity=1)]


def _foreign_option(menu, other_brand):
    group = OptionGroupFactory(brand=menu.noodles.brand, code="size", min_choices=0)
    return [_noodles(menu, menu.hot, OptionFactory(group=group))]


REFUSED_LINES = {
    "unknown dish": (lambda m, o: [LineRequest(dish_id=987654, quantity=1)], OrderInvalid, "not on this store's menu"),
    "another brand's dish": (_other_brand_dish, OrderInvalid, "not on this store's menu"),
    "inactive dish": (_inactive_dish, OrderInvalid, "not on this store's menu"),
    "dish id text": (lambda m, o: [LineRequest("abc", 1)], OrderInvalid, "not on this store's menu"),
    "dish id None": (lambda m, o: [LineRequest(None, 1)], OrderInvalid, "not on this store's menu"),
    "quantity 0": (lambda m, o: [LineRequest(m.tea.pk, 0)], OrderInvalid, "between 1 and 99"),
    "quantity -1": (lambda m, o: [LineRequest(m.tea.pk, -1)], OrderInvalid, "between 1 and 99"),
    "quantity 1000": (lambda m, o: [LineRequest(m.tea.pk, 1000)], OrderInvalid, "between 1 and 99"),
    "quantity bool": (lambda m, o: [LineRequest(m.tea.pk, True)], OrderInvalid, "whole numbers"),
    "quantity float": (lambda m, o: [LineRequest(m.tea.pk, 1.0)], OrderInvalid, "whole numbers"),
    "quantity text": (lambda m, o: [LineRequest(m.tea.pk, "2")], OrderInvalid, "whole numbers"),
    "quantity None": (lambda m, o: [LineRequest(m.tea.pk, None)], OrderInvalid, "whole numbers"),
    "no lines": (lambda m, o: [], OrderInvalid, "no dishes"),
    "too many lines": (lambda m, o: [LineRequest(m.tea.pk, 1)] * 31, OrderInvalid, "at most 30 lines"),
    "too many portions": (lambda m, o: [LineRequest(m.tea.pk, 99)] * 3, OrderInvalid, "at most 200 portions"),
    "option not offered": (lambda m, o: [LineRequest(m.tea.pk, 1, (m.hot.pk,))], OrderInvalid, "not offered"),
    "option of another group": (_foreign_option, OrderInvalid, "not offered"),
    "unknown option": (lambda m, o: [LineRequest(m.noodles.pk, 1, (m.hot.pk, 987654))], OrderInvalid, "not offered"),
    "required option missing": (lambda m, o: [_noodles(m)], OrderInvalid, "Choose Spice level for Beef noodles"),
    "too many options": (lambda m, o: [_noodles(m, m.mild, m.hot)], OrderInvalid, "at most 1 of Spice level"),
    "duplicate option": (lambda m, o: [_noodles(m, m.hot, m.hot)], OrderInvalid, "chosen twice"),
    "switched off": (lambda m, o: [LineRequest(m.soup.pk, 1)], SoldOut, "Soup"),
    "stock too low": (lambda m, o: [LineRequest(m.dumplings.pk, 11)], SoldOut, "Dumplings"),
    "stock too low over two lines": (
        lambda m, o: [LineRequest(m.dumplings.pk, 6), LineRequest(m.dumplings.pk, 5)], SoldOut, "Dumplings",
    ),
}


@pytest.mark.parametrize("case", list(REFUSED_LINES), ids=list(REFUSED_LINES))
def test_bad_lines_are_refused_and_nothing_is_written(case, customer, store, menu, other_brand, english):
    build, error, message = REFUSED_LINES[case]
    lines = build(menu, other_brand)
    before = _written(menu)
    with pytest.raises(error) as exc:
        order_submit(actor=customer, store=store, fulfilment="pickup", lines=lines, idempotency_key="k1")
    assert message in str(exc.value.message)
    assert _written(menu) == before == (0, 0, 0, 10, 0)


def test_sold_out_names_the_dishes(customer, store, menu):
    with pytest.raises(SoldOut) as exc:
        submit(customer, store, menu, lines=[LineRequest(menu.soup.pk, 1), LineRequest(menu.dumplings.pk, 20)])
    assert set(exc.value.dish_ids) == {menu.soup.pk, menu.dumplings.pk}
    assert exc.value.code == "sold_out"


def _closed(store):
    store.is_open = False
    store.save()


def _after_hours(store):
    OpeningHours.objects.create(brand=store.brand, store=store, weekday=0, opens=time(7), closes=time(11))
    OpeningHours.objects.create(brand=store.brand, store=store, weekday=0, opens=time(17), closes=time(21))


def _brand_off(store):
    store.brand.is_active = False
    store.brand.save()


def _delivery_on(store):
    store.offers_delivery = True
    store.save()


REFUSED_ORDERS = {
    # name: (store setup, submit kwargs, error, message)
    "store switched off": (_closed, {}, StoreClosed, "not taking orders"),
    "outside opening hours": (_after_hours, {}, StoreClosed, "not taking orders"),
    "brand switched off": (_brand_off, {}, StoreClosed, "not taking orders"),
    "unknown fulfilment": (None, {"fulfilment": "teleport"}, OrderInvalid, "Choose pickup, delivery or dine-in"),
    "delivery not offered": (None, {"fulfilment": "delivery", "address": "x", "latitude": "31.2304",
                                    "longitude": "121.4737"}, OrderInvalid, "does not offer Delivery"),
    "dine-in not offered": (lambda s: setattr(s, "offers_dine_in", False) or s.save(),
                            {"fulfilment": "dine_in", "table": "A1"}, OrderInvalid, "does not offer Dine-in"),
    "delivery without address": (_delivery_on, {"fulfilment": "delivery", "address": "  ", "latitude": "31.2304",
                                                "longitude": "121.4737"}, OrderInvalid, "Enter a delivery address"),
    "delivery without coordinates": (_delivery_on, {"fulfilment": "delivery", "address": "人民广场"},
                                     OrderInvalid, "Locate your delivery address"),
    "delivery with a bad coordinate": (_delivery_on, {"fulfilment": "delivery", "address": "人民广场",
                                                      "latitude": "north", "longitude": "121.4"},
                                       OrderInvalid, "not valid"),
    "delivery at NaN": (_delivery_on, {"fulfilment": "delivery", "address": "人民广场",
                                       "latitude": "NaN", "longitude": "121.4"}, OrderInvalid, "not valid"),
    "delivery at infinity": (_delivery_on, {"fulfilment": "delivery", "address": "人民广场",
                                            "latitude": "31.2", "longitude": "-Infinity"}, OrderInvalid, "not valid"),
    "delivery off the globe": (_delivery_on, {"fulfilment": "delivery", "address": "人民广场",
                                              "latitude": "91", "longitude": "121.4"}, OrderInvalid, "not valid"),
    "delivery outside the radius": (_delivery_on, {"fulfilment": "delivery", "address": "浦东机场",
                                                   "latitude": "31.1443", "longitude": "121.8083"},
                                    OutsideDeliveryArea, "delivers within 3.00 km"),
    "dine-in without table": (None, {"fulfilment": "dine_in"}, OrderInvalid, "Scan the QR code"),
    "dine-in unknown table": (None, {"fulfilment": "dine_in", "table": "Z9"}, OrderInvalid, "Table Z9 is not"),
    "note too long": (None, {"note": "好" * 201}, OrderInvalid, "note is too long"),
    "key too long": (None, {"key": "k" * 101}, OrderInvalid, "Idempotency-Key is too long"),
}


@pytest.mark.parametrize("case", list(REFUSED_ORDERS), ids=list(REFUSED_ORDERS))
def test_bad_orders_are_refused_and_nothing_is_written(case, customer, store, menu, english):
    setup, kwargs, error, message = REFUSED_ORDERS[case]
    if setup:
        setup(store)
    before = _written(menu)
    with pytest.raises(error) as exc:
        submit(customer, store, menu, now=MONDAY_NOON + timedelta(hours=1), **kwargs)
    assert message in str(exc.value.message)
    assert _written(menu) == before == (0, 0, 0, 10, 0)


def test_inactive_table_is_refused(customer, store, menu, english):
    menu.table.is_active = False
    menu.table.save()
    with pytest.raises(OrderInvalid, match="Table A1 is not a table of this store"):
        submit(customer, store, menu, fulfilment="dine_in", table="A1")
    assert Order.objects.count() == 0


def test_table_of_another_store_is_refused(customer, store, menu, brand):
    from stores.models import DiningTable
    from tests.stores.factories import StoreFactory

    other = StoreFactory(brand=brand, code="SH002")
    DiningTable.objects.create(brand=brand, store=other, code="B7")
    with pytest.raises(OrderInvalid):
        submit(customer, store, menu, fulfilment="dine_in", table="B7")
    assert Order.objects.count() == 0


def test_note_of_exactly_the_limit_is_kept(customer, store, menu):
    order = submit(customer, store, menu, note="  " + "好" * 200 + "  ")
    assert order.note == "好" * 200


def test_frozen_customer_cannot_order(customer, store, menu, english):
    user_freeze(user=customer, reason="Too many refunds")
    before = _written(menu)
    with pytest.raises(AccountFrozen) as exc:
        submit(customer, store, menu)
    assert exc.value.code == "account_frozen" and exc.value.status_code == 403
    assert "frozen" in str(exc.value.message) and "Too many refunds" in str(exc.value.message)
    assert _written(menu) == before


def test_frozen_customer_cannot_replay_a_key_either(customer, store, menu):
    submit(customer, store, menu, key="k1")
    user_freeze(user=customer, reason="fraud")
    with pytest.raises(AccountFrozen):
        submit(customer, store, menu, key="k1")
    assert Order.objects.count() == 1


@pytest.mark.parametrize("source", [OrderSource.WEB, OrderSource.API, OrderSource.TABLE])
def test_no_customer_only_for_a_kiosk(source, store, menu, english):
    with pytest.raises(OrderInvalid, match="Log in to place an order"):
        order_submit(actor=None, store=store, fulfilment="pickup", source=source,
                     lines=[LineRequest(dish_id=menu.tea.pk, quantity=1)])
    assert Order.objects.count() == 0


def test_anonymous_user_counts_as_no_customer(store, menu):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(OrderInvalid):
        order_submit(actor=AnonymousUser(), store=store, fulfilment="pickup",
                     lines=[LineRequest(dish_id=menu.tea.pk, quantity=1)])
    result = order_submit(actor=AnonymousUser(), store=store, fulfilment="pickup", source=OrderSource.KIOSK,
                          lines=[LineRequest(dish_id=menu.tea.pk, quantity=1)])
    assert result.order.customer is None


# --- Idempotency ---


def test_same_key_and_body_returns_the_same_order(customer, store, menu):
    first = order_submit(actor=customer, store=store, fulfilment="pickup", idempotency_key="abc",
                         lines=[_noodles(menu, menu.hot), LineRequest(menu.dumplings.pk, 2)])
    again = order_submit(actor=customer, store=store, fulfilment="pickup", idempotency_key=" abc ",
                         lines=[_noodles(menu, menu.hot), LineRequest(menu.dumplings.pk, 2)])
    assert first.created is True and again.created is False
    assert again.order.pk == first.order.pk
    assert Order.objects.count() == 1
    assert _stock(menu) == 8  # reserved once
    assert AuditEvent.objects.filter(action="order.submitted").count() == 1


def test_same_key_replays_even_when_the_store_closed_since(customer, store, menu):
    order = submit(customer, store, menu, key="abc")
    _closed(store)
    assert submit(customer, store, menu, key="abc").pk == order.pk


@pytest.mark.parametrize(
    "change",
    [
        {"lines": "other"},
        {"fulfilment": "dine_in", "table": "A1"},
        {"note": "no onions"},
    ],
    ids=["other lines", "other fulfilment", "other note"],
)
def test_same_key_with_another_body_conflicts(change, customer, store, menu, english):
    submit(customer, store, menu, key="abc")
    before = _written(menu)
    if change.get("lines") == "other":
        change = {"lines": [LineRequest(menu.tea.pk, 1)]}
    with pytest.raises(IdempotencyConflict) as exc:
        submit(customer, store, menu, key="abc", **change)
    assert exc.value.code == "idempotency_conflict" and exc.value.status_code == 409
    assert "already used for a different order" in str(exc.value.message)
    assert _written(menu) == before


def test_keys_are_per_customer(customer, store, menu):
    other = UserFactory(phone="13800000002")
    mine = order_submit(actor=customer, store=store, fulfilment="pickup", idempotency_key="same",
                        lines=[LineRequest(menu.tea.pk, 1)])
    theirs = order_submit(actor=other, store=store, fulfilment="pickup", idempotency_key="same",
                          lines=[LineRequest(menu.tea.pk, 1)])
    assert mine.created and theirs.created
    assert mine.order.pk != theirs.order.pk
    assert (mine.order.customer, theirs.order.customer) == (customer, other)
    assert [mine.order.number, theirs.order.number] == [1, 2]
    # And a different body under the other customer's key conflicts only for that customer.
    with pytest.raises(IdempotencyConflict):
        order_submit(actor=other, store=store, fulfilment="pickup", idempotency_key="same",
                     lines=[LineRequest(menu.tea.pk, 2)])


def test_without_a_key_every_submit_is_a_new_order(customer, store, menu):
    first, second = submit(customer, store, menu), submit(customer, store, menu)
    assert first.pk != second.pk and [first.number, second.number] == [1, 2]
    assert Order.objects.get(pk=first.pk).idempotency_key == ""


def test_option_order_does_not_change_the_fingerprint(customer, store, menu):
    group = OptionGroupFactory(brand=store.brand, code="extras", min_choices=0, max_choices=3)
    egg, beef = OptionFactory(group=group, price_delta=Decimal("3.00")), OptionFactory(group=group)
    menu.noodles.option_groups.add(group)
    first = order_submit(actor=customer, store=store, fulfilment="pickup", idempotency_key="opt",
                         lines=[LineRequest(menu.noodles.pk, 1, (menu.hot.pk, egg.pk, beef.pk))])
    again = order_submit(actor=customer, store=store, fulfilment="pickup", idempotency_key="opt",
                         lines=[LineRequest(menu.noodles.pk, 1, (beef.pk, egg.pk, menu.hot.pk))])
    assert again.order.pk == first.order.pk and again.created is False
    assert first.order.total == Decimal("23.00")


def test_now_defaults_to_the_current_time(customer, store, menu):
    before = timezone.now()
    order = submit(customer, store, menu)
    assert before <= order.created_at <= timezone.now()
