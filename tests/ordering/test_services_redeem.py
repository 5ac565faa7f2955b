"""核销: redeeming pickup codes, and every reason a code is refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditEvent
from ordering.errors import NotYourStore, OrderStateConflict, PickupCodeInvalid
from ordering.models import Order, OrderStatus
from ordering.services import LineRequest, order_bump, order_redeem, order_submit
from payments.services import payment_create
from tests.ordering.factories import gift_card_for, paid_order, submit
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _ready(order, staff) -> Order:
    order_bump(actor=staff, order_id=order.pk, move="start")
    order_bump(actor=staff, order_id=order.pk, move="ready")
    return Order.objects.get(pk=order.pk)


def _ready_order(customer, store, menu, staff, **kwargs) -> Order:
    return _ready(paid_order(customer, store, menu, **kwargs), staff)


def _ready_order_at(customer, store, menu, staff, when) -> Order:
    """Submitted and paid at ``when`` (a past moment), then made ready."""
    order = submit(customer, store, menu, now=when)
    card = gift_card_for(customer, store.brand)
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk},
                   now=when + timedelta(minutes=1))
    return _ready(order, staff)


def _other_code(*orders) -> str:
    taken = {o.pickup_code for o in orders}
    code = 0
    while f"{code:06d}" in taken:
        code += 1
    return f"{code:06d}"


def test_redeem_completes_a_ready_order(customer, store, menu, store_manager):
    order = _ready_order(customer, store, menu, store_manager)
    redeemed = order_redeem(actor=store_manager, store=store, pickup_code=f" {order.pickup_code} ", ip="192.0.2.1")
    assert redeemed.pk == order.pk
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED and order.completed_at is not None
    event = AuditEvent.objects.get(action="order.redeemed")
    assert event.object_id == str(order.pk) and event.actor_id == store_manager.pk and event.ip == "192.0.2.1"


@pytest.mark.parametrize("code", ["", None, "12345", "1234567", "abcdef", "12 345"])
def test_malformed_code(code, customer, store, menu, store_manager, english):
    _ready_order(customer, store, menu, store_manager)
    with pytest.raises(PickupCodeInvalid) as exc:
        order_redeem(actor=store_manager, store=store, pickup_code=code)
    assert exc.value.code == "malformed" and exc.value.status_code == 400
    assert str(exc.value) == "A pickup code is 6 digits."


def test_wrong_code(customer, store, menu, store_manager, english):
    order = _ready_order(customer, store, menu, store_manager)
    with pytest.raises(PickupCodeInvalid) as exc:
        order_redeem(actor=store_manager, store=store, pickup_code=_other_code(order))
    assert exc.value.code == "wrong_code"
    assert str(exc.value) == "No order has this pickup code."
    order.refresh_from_db()
    assert order.status == OrderStatus.READY


def test_used_code(customer, store, menu, store_manager, english):
    order = _ready_order(customer, store, menu, store_manager)
    order_redeem(actor=store_manager, store=store, pickup_code=order.pickup_code)
    with pytest.raises(PickupCodeInvalid) as exc:
        order_redeem(actor=store_manager, store=store, pickup_code=order.pickup_code)
    assert exc.value.code == "used_code"
    collected = timezone.localtime(Order.objects.get(pk=order.pk).completed_at).strftime("%H:%M")
    assert str(exc.value) == f"Order 001 was already collected at {collected}."
    assert AuditEvent.objects.filter(action="order.redeemed").count() == 1


def test_code_of_an_older_day_has_expired(customer, store, menu, store_manager, english):
    order = _ready_order_at(customer, store, menu, store_manager, timezone.now() - timedelta(days=3))
    with pytest.raises(PickupCodeInvalid) as exc:
        order_redeem(actor=store_manager, store=store, pickup_code=order.pickup_code)
    assert exc.value.code == "expired_code"
    assert str(exc.value) == "This pickup code has expired."
    order.refresh_from_db()
    assert order.status == OrderStatus.READY


def test_yesterdays_code_paid_long_ago_has_expired(customer, store, menu, store_manager):
    day1_morning = datetime(2025, 3, 3, 9, 0, tzinfo=SHANGHAI)
    order = _ready_order_at(customer, store, menu, store_manager, day1_morning)
    with pytest.raises(PickupCodeInvalid) as exc:
        order_redeem(actor=store_manager, store=store, pickup_code=order.pickup_code,
                     now=day1_morning + timedelta(hours=16))  # 01:00 the next day, paid 16 h ago
    assert exc.value.code == "expired_code"


def test_late_order_can_be_collected_after_midnight(customer, store, menu, store_manager):
    late = datetime(2025, 3, 3, 23, 50, tzinfo=SHANGHAI)
    order = _ready_order_at(customer, store, menu, store_manager, late)
    redeemed = order_redeem(actor=store_manager, store=store, pickup_code=order.pickup_code,
                            now=late + timedelta(minutes=25))
    assert redeemed.status == OrderStatus.COMPLETED
    assert redeemed.completed_at == late + timedelta(minutes=25)


def test_code_of_another_store_of_the_brand(customer, store, menu, hq_manager, english):
    order = _ready_order(customer, store, menu, hq_manager)
    other = StoreFactory(brand=store.brand, code="SH002", name="人民广场店")
    with pytest.raises(PickupCodeInvalid) as exc:
        order_redeem(actor=hq_manager, store=other, pickup_code=order.pickup_code)
    assert exc.value.code == "other_store"
    assert str(exc.value) == f"This code is for another store: {store.name}."
    order.refresh_from_db()
    assert order.status == OrderStatus.READY


def test_code_of_another_brand_is_just_wrong(customer, store, menu, store_manager, other_brand):
    order = _ready_order(customer, store, menu, store_manager)
    rival = StoreFactory(brand=other_brand, code="RV001")
    boss = make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000066")
    with pytest.raises(PickupCodeInvalid) as exc:
        order_redeem(actor=boss, store=rival, pickup_code=order.pickup_code)
    assert exc.value.code == "wrong_code"


def test_refunded_order(customer, store, menu, store_manager, english):
    order = _ready_order(customer, store, menu, store_manager)
    order.refund_full()
    order.save()
    with pytest.raises(PickupCodeInvalid) as exc:
        order_redeem(actor=store_manager, store=store, pickup_code=order.pickup_code)
    assert exc.value.code == "refunded"
    assert str(exc.value) == "Order 001 was refunded or cancelled."
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED


def test_paid_but_not_ready(customer, store, menu, store_manager):
    order = paid_order(customer, store, menu)
    with pytest.raises(OrderStateConflict) as exc:
        order_redeem(actor=store_manager, store=store, pickup_code=order.pickup_code)
    assert exc.value.code == "not_ready"


def test_staff_of_another_store_may_not_redeem(customer, store, menu, store_manager):
    order = _ready_order(customer, store, menu, store_manager)
    other = StoreFactory(brand=store.brand, code="SH002")
    elsewhere = make_staff(role=Role.STORE_MANAGER, brand=store.brand, stores=[other], phone="13700000077")
    for actor in (elsewhere, customer):
        with pytest.raises(NotYourStore) as exc:
            order_redeem(actor=actor, store=store, pickup_code=order.pickup_code)
        assert exc.value.code == "not_yours" and exc.value.status_code == 403
    # Nor at their own store with this store's code: that is another store's code.
    with pytest.raises(PickupCodeInvalid):
        order_redeem(actor=elsewhere, store=other, pickup_code=order.pickup_code)
    order.refresh_from_db()
    assert order.status == OrderStatus.READY
    assert not AuditEvent.objects.filter(action="order.redeemed").exists()


def test_todays_code_wins_over_yesterdays(customer, store, menu, store_manager):
    yesterday = _ready_order_at(customer, store, menu, store_manager, timezone.now() - timedelta(days=1))
    today = order_submit(actor=customer, store=store, fulfilment="pickup",
                         lines=[LineRequest(menu.tea.pk, 1)]).order
    card = gift_card_for(customer, store.brand)
    payment_create(actor=customer, order_id=today.pk, channel="gift_card", params={"gift_card": card.pk})
    today = Order.objects.get(pk=today.pk)
    # Force the same code on today's order (unique per store and day, so allowed).
    Order.objects.filter(pk=today.pk).update(pickup_code=yesterday.pickup_code)
    today = _ready(today, store_manager)
    redeemed = order_redeem(actor=store_manager, store=store, pickup_code=yesterday.pickup_code)
    assert redeemed.pk == today.pk
    yesterday.refresh_from_db()
    assert yesterday.status == OrderStatus.READY


def test_full_width_digits_are_read_as_digits(customer, store, menu, store_manager):
    order = _ready_order(customer, store, menu, store_manager)
    full_width = "".join(chr(ord(d) + 0xFEE0) for d in order.pickup_code)  # １２３４５６
    assert order_redeem(actor=store_manager, store=store, pickup_code=full_width).status == OrderStatus.COMPLETED
