"""The Order state machine: every allowed transition through its service (one history row with the
actor, one audit event each) and the refused ones (nothing changes)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django_fsm import TransitionNotAllowed

from accounts.models import Role
from audit.models import AuditEvent
from ordering.errors import NotYourStore, OrderInvalid, OrderNotFound, OrderStateConflict
from ordering.models import CancelReason, Order, OrderStatus
from ordering.services import order_bump, order_cancel, order_expire, order_recall, order_redeem
from payments.errors import PaymentNotAllowed
from payments.models import Payment
from payments.services import payment_create
from stores.models import StoreDishOverride
from tests.accounts.factories import UserFactory
from tests.ordering.factories import gift_card_for, paid_order, submit
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db


def _fresh(order) -> Order:
    return Order.objects.get(pk=order.pk)


def _trail(order):
    """(history rows, order audit events) of one order."""
    return order.history.count(), AuditEvent.objects.filter(object_id=str(order.pk)).count()


def _last(order):
    return order.history.order_by("-history_date", "-history_id").first()


def _event(order, action):
    return AuditEvent.objects.get(object_id=str(order.pk), action=action)


def _stock(menu):
    return StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock


def test_the_whole_happy_path_with_recalls(customer, store, menu, store_manager):
    order = submit(customer, store, menu)
    assert _trail(order) == (1, 1)
    card = gift_card_for(customer, store.brand)

    result = payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    order = _fresh(order)
    assert result.order_paid is True
    assert order.status == OrderStatus.PAID and len(order.pickup_code) == 6 and order.pickup_code.isdigit()
    assert order.paid_at is not None
    assert _last(order).history_user == customer and _last(order).status == OrderStatus.PAID
    paid_event = _event(order, "order.paid")
    assert paid_event.actor_id == customer.pk and paid_event.data["pickup_code"] == order.pickup_code
    assert _trail(order) == (2, 2)

    steps = [
        (lambda: order_bump(actor=store_manager, order_id=order.pk, move="start"), OrderStatus.PREPARING,
         "order.started"),
        (lambda: order_bump(actor=store_manager, order_id=order.pk, move="ready"), OrderStatus.READY, "order.ready"),
        (lambda: order_recall(actor=store_manager, order_id=order.pk), OrderStatus.PREPARING, "order.recalled"),
        (lambda: order_recall(actor=store_manager, order_id=order.pk), OrderStatus.PAID, "order.recalled"),
        (lambda: order_bump(actor=store_manager, order_id=order.pk, move="start"), OrderStatus.PREPARING,
         "order.started"),
        (lambda: order_bump(actor=store_manager, order_id=order.pk, move="ready"), OrderStatus.READY, "order.ready"),
        (lambda: order_redeem(actor=store_manager, store=store, pickup_code=order.pickup_code),
         OrderStatus.COMPLETED, "order.redeemed"),
    ]
    for number, (step, status, action) in enumerate(steps, start=3):
        returned = step()
        assert returned.status == status
        saved = _fresh(order)
        assert saved.status == status
        assert _last(saved).history_user == store_manager and _last(saved).status == status
        events = AuditEvent.objects.filter(object_id=str(order.pk)).order_by("-seq")
        assert events[0].action == action and events[0].actor_id == store_manager.pk
        assert events[0].data["status"] == status
        assert _trail(order) == (number, number)

    order = _fresh(order)
    assert order.completed_at is not None and order.ready_at is not None and order.started_at is not None
    recalls = AuditEvent.objects.filter(object_id=str(order.pk), action="order.recalled").order_by("seq")
    assert [e.data["from"] for e in recalls] == [OrderStatus.READY, OrderStatus.PREPARING]


def test_recall_clears_the_bump_times(customer, store, menu, store_manager):
    order = paid_order(customer, store, menu)
    order_bump(actor=store_manager, order_id=order.pk, move="start")
    order_bump(actor=store_manager, order_id=order.pk, move="ready")
    assert _fresh(order).ready_at is not None
    order_recall(actor=store_manager, order_id=order.pk, expected_status=OrderStatus.READY)
    assert _fresh(order).ready_at is None and _fresh(order).started_at is not None
    order_recall(actor=store_manager, order_id=order.pk)
    assert _fresh(order).started_at is None and _fresh(order).status == OrderStatus.PAID


def test_customer_cancels_and_the_stock_comes_back(customer, store, menu):
    order = submit(customer, store, menu)
    assert _stock(menu) == 8
    returned = order_cancel(actor=customer, order_id=order.pk, ip="198.51.100.7")
    order = _fresh(order)
    assert returned.status == order.status == OrderStatus.CANCELLED
    assert order.cancel_reason == CancelReason.CUSTOMER and order.cancelled_at is not None
    assert _stock(menu) == 10
    assert _last(order).history_user == customer
    event = _event(order, "order.cancelled")
    assert event.actor_id == customer.pk and event.reason == "customer" and event.ip == "198.51.100.7"
    # Only what was taken from limited stock comes back (noodles are unlimited).
    assert event.data["stock_released"] == {str(menu.dumplings.pk): 2}


def test_staff_cancels_an_unpaid_order_of_their_store(customer, store, menu, store_manager):
    order = submit(customer, store, menu)
    order_cancel(actor=store_manager, order_id=order.pk)
    order = _fresh(order)
    assert order.status == OrderStatus.CANCELLED and order.cancel_reason == CancelReason.STAFF
    assert _last(order).history_user == store_manager
    assert _event(order, "order.cancelled").actor_id == store_manager.pk


def test_expiry_is_done_by_the_system(customer, store, menu):
    order = submit(customer, store, menu)
    assert order_expire(order_id=order.pk, now=order.expires_at + timedelta(seconds=1)) is True
    order = _fresh(order)
    assert order.status == OrderStatus.CANCELLED and order.cancel_reason == CancelReason.EXPIRED
    assert order.cancelled_at == order.expires_at + timedelta(seconds=1)
    assert _last(order).history_user is None
    event = _event(order, "order.expired")
    assert event.actor_id is None and event.actor_type == "system" and event.reason == "expired"
    assert _stock(menu) == 10


@pytest.mark.parametrize("status", [OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY])
def test_refund_full_from_every_kitchen_state(status, customer, store, menu, store_manager):
    order = paid_order(customer, store, menu)
    if status != OrderStatus.PAID:
        order_bump(actor=store_manager, order_id=order.pk, move="start")
    if status == OrderStatus.READY:
        order_bump(actor=store_manager, order_id=order.pk, move="ready")
    order = _fresh(order)
    assert order.status == status
    order.refund_full()
    order.save()
    assert _fresh(order).status == OrderStatus.REFUNDED


# --- Refused transitions: an error, and nothing changes ---


def _assert_unchanged(order, status, trail):
    assert _fresh(order).status == status
    assert _trail(order) == trail


def test_start_on_an_unpaid_order_is_refused(customer, store, menu, store_manager, english):
    order = submit(customer, store, menu)
    trail = _trail(order)
    with pytest.raises(OrderStateConflict, match="Order 001 is already Awaiting payment"):
        order_bump(actor=store_manager, order_id=order.pk, move="start")
    _assert_unchanged(order, OrderStatus.PENDING_PAYMENT, trail)


def test_ready_on_a_paid_order_is_refused(customer, store, menu, store_manager):
    order = paid_order(customer, store, menu)
    trail = _trail(order)
    with pytest.raises(OrderStateConflict) as exc:
        order_bump(actor=store_manager, order_id=order.pk, move="ready")
    assert exc.value.code == "conflict" and exc.value.status_code == 409
    _assert_unchanged(order, OrderStatus.PAID, trail)


def test_a_second_screen_bumping_the_same_ticket_is_refused(customer, store, menu, store_manager):
    order = paid_order(customer, store, menu)
    order_bump(actor=store_manager, order_id=order.pk, move="start")
    trail = _trail(order)
    with pytest.raises(OrderStateConflict):
        order_bump(actor=store_manager, order_id=order.pk, move="start")
    _assert_unchanged(order, OrderStatus.PREPARING, trail)


def test_unknown_kitchen_move_is_refused(customer, store, menu, store_manager):
    order = paid_order(customer, store, menu)
    trail = _trail(order)
    with pytest.raises(OrderInvalid):
        order_bump(actor=store_manager, order_id=order.pk, move="redeem")
    _assert_unchanged(order, OrderStatus.PAID, trail)


def test_redeem_on_a_preparing_order_is_not_ready(customer, store, menu, store_manager, english):
    order = paid_order(customer, store, menu)
    order_bump(actor=store_manager, order_id=order.pk, move="start")
    trail = _trail(order)
    with pytest.raises(OrderStateConflict) as exc:
        order_redeem(actor=store_manager, store=store, pickup_code=order.pickup_code)
    assert exc.value.code == "not_ready"
    assert "not ready yet (Preparing)" in str(exc.value)
    _assert_unchanged(order, OrderStatus.PREPARING, trail)


@pytest.mark.parametrize("status", [OrderStatus.PAID, OrderStatus.PENDING_PAYMENT])
def test_recall_of_a_ticket_with_nothing_to_undo_is_refused(status, customer, store, menu, store_manager):
    order = paid_order(customer, store, menu) if status == OrderStatus.PAID else submit(customer, store, menu)
    trail = _trail(order)
    with pytest.raises(OrderStateConflict):
        order_recall(actor=store_manager, order_id=order.pk)
    _assert_unchanged(order, status, trail)


def test_recall_with_a_stale_expected_status_is_refused(customer, store, menu, store_manager):
    order = paid_order(customer, store, menu)
    order_bump(actor=store_manager, order_id=order.pk, move="start")
    trail = _trail(order)
    with pytest.raises(OrderStateConflict):
        order_recall(actor=store_manager, order_id=order.pk, expected_status=OrderStatus.READY)
    _assert_unchanged(order, OrderStatus.PREPARING, trail)


def test_cancel_of_a_paid_order_is_refused(customer, store, menu):
    order = paid_order(customer, store, menu)
    trail = _trail(order)
    with pytest.raises(OrderStateConflict):
        order_cancel(actor=customer, order_id=order.pk)
    _assert_unchanged(order, OrderStatus.PAID, trail)
    assert _stock(menu) == 8


def test_cancel_while_a_payment_is_in_flight_is_refused(customer, store, menu, english):
    order = submit(customer, store, menu)
    payment = Payment(brand=store.brand, order=order, channel="counter", amount=Decimal("10.00"))
    payment.start()
    payment.save()
    trail = _trail(order)
    with pytest.raises(OrderStateConflict, match="payment of this order is in progress"):
        order_cancel(actor=customer, order_id=order.pk)
    _assert_unchanged(order, OrderStatus.PENDING_PAYMENT, trail)
    assert _stock(menu) == 8


def test_cancel_by_somebody_else_looks_like_no_such_order(customer, store, menu):
    order = submit(customer, store, menu)
    stranger = UserFactory(phone="13800000099")
    with pytest.raises(OrderNotFound):
        order_cancel(actor=stranger, order_id=order.pk)
    with pytest.raises(OrderNotFound):
        order_cancel(actor=None, order_id=order.pk)
    with pytest.raises(OrderNotFound):
        order_cancel(actor=customer, order_id="not-a-uuid")
    assert _fresh(order).status == OrderStatus.PENDING_PAYMENT


def test_cancel_twice_is_refused(customer, store, menu):
    order = submit(customer, store, menu)
    order_cancel(actor=customer, order_id=order.pk)
    trail = _trail(order)
    with pytest.raises(OrderStateConflict):
        order_cancel(actor=customer, order_id=order.pk)
    _assert_unchanged(order, OrderStatus.CANCELLED, trail)
    assert _stock(menu) == 10  # released once


def test_pay_on_a_cancelled_order_is_refused(customer, store, menu):
    order = submit(customer, store, menu)
    order_cancel(actor=customer, order_id=order.pk)
    card = gift_card_for(customer, store.brand, "100.00")
    trail = _trail(order)
    with pytest.raises(PaymentNotAllowed) as exc:
        payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    assert exc.value.code == "order_cancelled"
    _assert_unchanged(order, OrderStatus.CANCELLED, trail)
    assert Payment.objects.count() == 0
    card.refresh_from_db()
    assert card.balance == Decimal("100.00")


def test_pay_twice_is_refused(customer, store, menu):
    order = paid_order(customer, store, menu)
    card = gift_card_for(customer, store.brand, "100.00")
    with pytest.raises(PaymentNotAllowed) as exc:
        payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    assert exc.value.code == "already_paid"
    assert Payment.objects.filter(order=order).count() == 1


def test_expire_refuses_a_paid_or_not_yet_due_order(customer, store, menu):
    pending = submit(customer, store, menu)
    assert order_expire(order_id=pending.pk, now=pending.expires_at - timedelta(seconds=1)) is False
    paid = paid_order(customer, store, menu)
    assert order_expire(order_id=paid.pk, now=paid.expires_at + timedelta(hours=1)) is False
    assert _fresh(pending).status == OrderStatus.PENDING_PAYMENT
    assert _fresh(paid).status == OrderStatus.PAID
    assert not AuditEvent.objects.filter(action="order.expired").exists()


def test_kitchen_moves_need_staff_of_the_store(customer, store, menu, brand):
    order = paid_order(customer, store, menu)
    other = StoreFactory(brand=brand, code="SH002")
    elsewhere = make_staff(role=Role.STORE_MANAGER, brand=brand, stores=[other], phone="13700000055")
    trail = _trail(order)
    for actor in (customer, elsewhere):
        with pytest.raises(NotYourStore):
            order_bump(actor=actor, order_id=order.pk, move="start")
        with pytest.raises(NotYourStore):
            order_recall(actor=actor, order_id=order.pk)
    with pytest.raises(NotYourStore):
        order_cancel(actor=elsewhere, order_id=submit(customer, store, menu).pk)
    _assert_unchanged(order, OrderStatus.PAID, trail)


def test_hq_and_kitchen_staff_may_bump(customer, store, menu, hq_manager):
    order = paid_order(customer, store, menu)
    order_bump(actor=hq_manager, order_id=order.pk, move="start")
    kitchen = make_staff(role=Role.KITCHEN_STAFF, brand=store.brand, stores=[store], phone="13700000056")
    order_bump(actor=kitchen, order_id=order.pk, move="ready")
    order = _fresh(order)
    assert order.status == OrderStatus.READY and _last(order).history_user == kitchen


def test_unknown_order_is_not_found(store_manager):
    with pytest.raises(OrderNotFound):
        order_bump(actor=store_manager, order_id="00000000-0000-0000-0000-000000000000", move="start")


# --- The model's transitions themselves ---


@pytest.mark.parametrize(
    "method, kwargs",
    [
        ("start", {}),
        ("mark_ready", {}),
        ("redeem", {}),
        ("recall_ready", {}),
        ("recall_start", {}),
        ("refund_full", {}),
    ],
)
def test_model_refuses_transitions_from_awaiting_payment(method, kwargs, customer, store, menu):
    order = submit(customer, store, menu)
    with pytest.raises(TransitionNotAllowed):
        getattr(order, method)(**kwargs)
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_model_refuses_pay_and_cancel_once_paid(customer, store, menu):
    order = paid_order(customer, store, menu)
    with pytest.raises(TransitionNotAllowed):
        order.pay(pickup_code="123456")
    with pytest.raises(TransitionNotAllowed):
        order.cancel(reason=CancelReason.CUSTOMER)
    order.start()
    order.mark_ready()
    order.redeem()
    with pytest.raises(TransitionNotAllowed):
        order.refund_full()  # a completed order is refunded by review, not in full
    assert order.status == OrderStatus.COMPLETED


def test_status_cannot_be_assigned(customer, store, menu):
    order = submit(customer, store, menu)
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        order.status = OrderStatus.PAID
    assert _fresh(order).status == OrderStatus.PENDING_PAYMENT
