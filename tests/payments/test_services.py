"""payment_create with gift cards and at the counter; gift card issue, top-up and bind."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts.models import Role
from accounts.services import user_freeze
from audit.models import AuditEvent
from ordering.errors import OrderNotFound
from ordering.models import Order, OrderSource, OrderStatus
from ordering.services import LineRequest, order_submit
from payments.errors import AmountInvalid, GiftCardInvalid, InsufficientBalance, PaymentNotAllowed
from payments.gateways import UnknownChannel
from payments.models import GiftCard, GiftCardEntry, GiftCardEntryKind, Payment, PaymentStatus
from payments.selectors import order_amount_due
from payments.services import (
    gift_card_bind,
    gift_card_issue,
    gift_card_top_up,
    payment_create,
)
from tests.accounts.factories import UserFactory
from tests.ordering.factories import gift_card_for, submit
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db


def _pay(actor, order, card=None, **kwargs):
    kwargs.setdefault("channel", "gift_card")
    if card is not None:
        kwargs.setdefault("params", {"gift_card": card.pk})
    return payment_create(actor=actor, order_id=order.pk, **kwargs)


def _balance(card) -> Decimal:
    return GiftCard.objects.get(pk=card.pk).balance


def _written():
    return (
        Payment.objects.count(),
        GiftCardEntry.objects.count(),
        AuditEvent.objects.filter(action__startswith="payment.").count(),
        AuditEvent.objects.filter(action="order.paid").count(),
    )


def assert_refused(call, error, *, code=None):
    before = _written()
    with pytest.raises(error) as exc:
        call()
    if code:
        assert exc.value.code == code
    assert _written() == before
    return exc.value


# --- Paying with a gift card ---


def test_gift_card_pays_the_order(customer, order, card):
    result = _pay(customer, order, card, ip="203.0.113.9")

    assert result.order_paid is True and result.action.kind == "none"
    payment = result.payment
    assert payment.status == PaymentStatus.SUCCEEDED and payment.amount == Decimal("45.00")
    assert payment.gift_card == card and payment.payer_account == card.code[-4:]
    assert payment.created_by == customer and payment.succeeded_at is not None
    assert payment.out_trade_no == payment.id.hex
    order = Order.objects.get(pk=order.pk)
    assert order.status == OrderStatus.PAID and len(order.pickup_code) == 6
    assert order.paid_at == payment.created_at
    assert _balance(card) == Decimal("55.00")
    entry = GiftCardEntry.objects.get(payment=payment)
    assert (entry.kind, entry.amount, entry.balance_after) == (GiftCardEntryKind.PAYMENT, Decimal("-45.00"),
                                                               Decimal("55.00"))
    assert entry.note == "SH001 #001" and entry.actor == customer
    assert order_amount_due(order) == Decimal("0.00")
    actions = list(AuditEvent.objects.filter(action__in=["payment.succeeded", "order.paid"])
                   .order_by("seq").values_list("action", "object_id", "actor_id", "ip"))
    assert actions == [("payment.succeeded", str(payment.pk), customer.pk, "203.0.113.9"),
                       ("order.paid", str(order.pk), customer.pk, None)]
    history = list(payment.history.order_by("history_date", "history_id"))
    assert [h.status for h in history] == [PaymentStatus.CREATED, PaymentStatus.SUCCEEDED]
    assert {h.history_user for h in history} == {customer}


def test_paying_more_than_is_due_is_refused(customer, order, card, english):
    error = assert_refused(lambda: _pay(customer, order, card, amount="45.01"), PaymentNotAllowed, code="over_total")
    assert "Only 45.00 CNY is left to pay" in str(error)
    assert _balance(card) == Decimal("100.00")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "NaN", "Infinity", "10000.01", object()])
def test_invalid_amounts_are_refused(amount, customer, order, card):
    assert_refused(lambda: _pay(customer, order, card, amount=amount), AmountInvalid, code="invalid_amount")
    assert _balance(card) == Decimal("100.00")


def test_paying_part_of_what_is_left_is_refused_for_now(customer, order, card):
    """Until split payment settles every part in one checkout, a part payment could leave money
    taken on an order that then expires; so a payment covers what is left."""
    assert_refused(lambda: _pay(customer, order, card, amount=Decimal("20.00")), PaymentNotAllowed,
             code="partial_not_allowed")
    assert _balance(card) == Decimal("100.00") and not Payment.objects.exists()
    result = _pay(customer, order, card, amount=Decimal("45.00"))
    assert result.order_paid is True and _balance(card) == Decimal("55.00")


def test_insufficient_balance_writes_nothing(customer, order, brand, english):
    poor = gift_card_for(customer, brand, "30.00")
    error = assert_refused(lambda: _pay(customer, order, poor), InsufficientBalance, code="insufficient_balance")
    assert "30.00 CNY left" in str(error)
    assert _balance(poor) == Decimal("30.00")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT
    assert order_amount_due(order) == Decimal("45.00")


def test_card_of_another_owner_is_invalid(customer, order, brand):
    stranger = UserFactory(phone="13800000042")
    theirs = gift_card_for(stranger, brand, "100.00")
    assert_refused(lambda: _pay(customer, order, theirs), GiftCardInvalid, code="invalid_gift_card")
    assert_refused(lambda: _pay(customer, order, params={"gift_card_code": theirs.code}), GiftCardInvalid)
    assert _balance(theirs) == Decimal("100.00")


def test_card_of_another_brand_is_invalid(customer, order, other_brand):
    foreign = gift_card_for(customer, other_brand, "100.00")
    assert_refused(lambda: _pay(customer, order, foreign), GiftCardInvalid)
    assert_refused(lambda: _pay(customer, order, params={"gift_card_code": foreign.code}), GiftCardInvalid)
    assert _balance(foreign) == Decimal("100.00")


def test_switched_off_card_is_invalid(customer, order, card):
    card.is_active = False
    card.save()
    assert_refused(lambda: _pay(customer, order, card), GiftCardInvalid)


@pytest.mark.parametrize("params", [{}, {"gift_card": None}, {"gift_card_code": "  "}, {"gift_card": 987654}])
def test_no_or_unknown_card_is_invalid(params, customer, order, card):
    assert_refused(lambda: _pay(customer, order, params=params), GiftCardInvalid)


def test_pay_by_typed_code(customer, order, brand):
    loose = gift_card_issue(actor=None, brand=brand, amount="50.00")
    spaced = " ".join(loose.code[i:i + 4] for i in range(0, 16, 4))
    result = _pay(customer, order, params={"gift_card_code": spaced})
    assert result.order_paid and result.payment.gift_card == loose
    assert _balance(loose) == Decimal("5.00")
    assert GiftCard.objects.get(pk=loose.pk).owner is None  # paying does not bind it


def test_typed_code_of_own_bound_card(customer, order, card):
    assert _pay(customer, order, params={"gift_card_code": card.code}).order_paid


def test_paying_somebody_elses_order_is_not_found(order, brand):
    stranger = UserFactory(phone="13800000043")
    theirs = gift_card_for(stranger, brand, "100.00")
    assert_refused(lambda: _pay(stranger, order, theirs), OrderNotFound)
    assert_refused(lambda: _pay(None, order, theirs), OrderNotFound)
    assert_refused(lambda: payment_create(actor=stranger, order_id="nope", channel="gift_card"), OrderNotFound)


def test_expired_order_is_refused_and_the_card_untouched(customer, order, card, english):
    error = assert_refused(
        lambda: _pay(customer, order, card, now=order.expires_at + timedelta(seconds=1)),
        PaymentNotAllowed, code="order_expired",
    )
    assert "nothing was charged" in str(error)
    assert _balance(card) == Decimal("100.00")
    # At the last instant before the deadline it is still payable.
    assert _pay(customer, order, card, now=order.expires_at - timedelta(seconds=1)).order_paid


def test_frozen_customer_cannot_pay(customer, order, card):
    user_freeze(user=customer, reason="fraud")
    error = assert_refused(lambda: _pay(customer, order, card), PaymentNotAllowed, code="account_frozen")
    assert error.status_code == 403
    assert _balance(card) == Decimal("100.00")


def test_unknown_channel(customer, order):
    assert_refused(lambda: _pay(customer, order, channel="bitcoin"), UnknownChannel, code="unknown_channel")


# --- At the counter ---


def test_counter_is_refused_for_customers(customer, order, english):
    error = assert_refused(lambda: _pay(customer, order, channel="counter"), PaymentNotAllowed, code="not_yours")
    assert error.status_code == 403 and "Only staff of this store" in str(error)
    assert_refused(lambda: _pay(None, order, channel="counter"), PaymentNotAllowed, code="not_yours")


def test_counter_is_refused_for_staff_of_another_store(order, brand):
    other = StoreFactory(brand=brand, code="SH002")
    elsewhere = make_staff(role=Role.STORE_MANAGER, brand=brand, stores=[other], phone="13700000044")
    assert_refused(lambda: _pay(elsewhere, order, channel="counter"), PaymentNotAllowed, code="not_yours")


def test_counter_is_only_for_kiosk_orders(order, store_manager):
    """Staff cannot mark a customer's online order paid without money."""
    with pytest.raises(PaymentNotAllowed):
        _pay(store_manager, order, channel="counter", params={"reference": "POS-0001"})
    assert not Payment.objects.exists() and Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT


def test_counter_is_allowed_for_store_staff(store, menu, store_manager):
    order = submit(None, store, menu, lines=[LineRequest(menu.dumplings.pk, 2)], source=OrderSource.KIOSK)
    result = _pay(store_manager, order, channel="counter", params={"reference": "POS-0001"})
    assert result.order_paid and result.payment.provider_trade_no == "POS-0001"
    assert result.payment.created_by == store_manager
    order = Order.objects.get(pk=order.pk)
    assert order.status == OrderStatus.PAID
    assert order.history.order_by("-history_date").first().history_user == store_manager
    assert AuditEvent.objects.get(action="order.paid").actor_id == store_manager.pk


def test_kiosk_order_paid_at_the_counter(store, menu, store_manager):
    kiosk = order_submit(actor=None, store=store, fulfilment="pickup", source=OrderSource.KIOSK,
                         lines=[LineRequest(menu.tea.pk, 2)]).order
    result = _pay(store_manager, kiosk, channel="counter")
    assert result.order_paid and result.payment.amount == Decimal("10.00")


# --- Gift cards: issue, top up, bind ---


def test_issue_a_card(hq_manager, brand, customer):
    card = gift_card_issue(actor=hq_manager, brand=brand, amount="200", owner=customer, note="welcome", ip="192.0.2.8")
    assert len(card.code) == 16 and card.code.isdigit()
    assert card.balance == Decimal("200.00") and card.owner == customer and card.bound_at is not None
    entry = card.entries.get()
    assert (entry.kind, entry.amount, entry.balance_after, entry.actor) == (
        GiftCardEntryKind.ISSUE, Decimal("200.00"), Decimal("200.00"), hq_manager,
    )
    event = AuditEvent.objects.get(action="gift_card.issued")
    assert (event.actor_id, event.amount, event.reason, event.ip) == (hq_manager.pk, Decimal("200.00"), "welcome",
                                                                      "192.0.2.8")
    assert event.object_id == str(card.pk) and card.code not in str(event.data)


def test_issue_an_unbound_card_with_a_chosen_number(hq_manager, brand):
    card = gift_card_issue(actor=hq_manager, brand=brand, amount=Decimal("50.00"), code="1234567812345678")
    assert card.owner is None and card.bound_at is None and card.masked_code == "•••• 5678"
    with pytest.raises(GiftCardInvalid):
        gift_card_issue(actor=hq_manager, brand=brand, amount="10", code="1234567812345678")
    assert GiftCard.objects.count() == 1 and GiftCardEntry.objects.count() == 1


@pytest.mark.parametrize("amount", ["0", "-1", "10000.01", "x"])
def test_issue_refuses_bad_amounts(amount, hq_manager, brand):
    with pytest.raises(AmountInvalid):
        gift_card_issue(actor=hq_manager, brand=brand, amount=amount)
    assert GiftCard.objects.count() == 0


def test_issue_only_for_the_staff_brand(brand, other_brand, customer):
    rival = make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000045")
    for actor in (rival, customer):
        with pytest.raises(GiftCardInvalid) as exc:
            gift_card_issue(actor=actor, brand=brand, amount="10")
        assert exc.value.code == "not_yours" and exc.value.status_code == 403
    assert GiftCard.objects.count() == 0 and not AuditEvent.objects.exists()


def test_top_up(hq_manager, card):
    topped = gift_card_top_up(actor=hq_manager, card_id=card.pk, amount="25.50", note="apology")
    assert topped.balance == _balance(card) == Decimal("125.50")
    entry = card.entries.order_by("-pk").first()
    assert (entry.kind, entry.amount, entry.balance_after) == (GiftCardEntryKind.TOP_UP, Decimal("25.50"),
                                                               Decimal("125.50"))
    event = AuditEvent.objects.get(action="gift_card.topped_up")
    assert event.amount == Decimal("25.50") and event.data["balance"] == "125.50" and event.actor_id == hq_manager.pk


def test_top_up_refusals(hq_manager, card, other_brand):
    rival = make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000046")
    with pytest.raises(GiftCardInvalid):
        gift_card_top_up(actor=rival, card_id=card.pk, amount="10")
    with pytest.raises(GiftCardInvalid):
        gift_card_top_up(actor=hq_manager, card_id=987654, amount="10")
    with pytest.raises(AmountInvalid):
        gift_card_top_up(actor=hq_manager, card_id=card.pk, amount="-10")
    card.is_active = False
    card.save()
    with pytest.raises(GiftCardInvalid):
        gift_card_top_up(actor=hq_manager, card_id=card.pk, amount="10")
    assert _balance(card) == Decimal("100.00") and card.entries.count() == 1
    assert not AuditEvent.objects.filter(action="gift_card.topped_up").exists()


def test_bind(customer, brand):
    card = gift_card_issue(actor=None, brand=brand, amount="80")
    spaced = f" {card.code[:8]} {card.code[8:]} "
    bound = gift_card_bind(actor=customer, code=spaced, ip="192.0.2.9")
    assert bound.pk == card.pk and bound.owner == customer and bound.bound_at is not None
    event = AuditEvent.objects.get(action="gift_card.bound")
    assert event.actor_id == customer.pk and event.ip == "192.0.2.9"
    # Binding again is a no-op; somebody else gets the same answer as for a wrong number.
    assert gift_card_bind(actor=customer, code=card.code).owner == customer
    assert AuditEvent.objects.filter(action="gift_card.bound").count() == 1
    stranger = UserFactory(phone="13800000047")
    with pytest.raises(GiftCardInvalid) as exc:
        gift_card_bind(actor=stranger, code=card.code)
    wrong = "9" * 16 if card.code != "9" * 16 else "8" * 16
    with pytest.raises(GiftCardInvalid) as exc_wrong:
        gift_card_bind(actor=stranger, code=wrong)
    assert str(exc.value) == str(exc_wrong.value)
    assert GiftCard.objects.get(pk=card.pk).owner == customer
    # And now the customer pays with it by id.
    assert GiftCard.objects.filter(owner=customer).count() == 1


@pytest.mark.parametrize("code", ["", "123", "12345678abcdefgh", "1" * 17])
def test_bind_refuses_malformed_numbers(code, customer):
    with pytest.raises(GiftCardInvalid):
        gift_card_bind(actor=customer, code=code)


def test_bind_needs_a_login(brand):
    card = gift_card_issue(actor=None, brand=brand, amount="80")
    for actor in (None, AnonymousUser()):
        with pytest.raises(GiftCardInvalid) as exc:
            gift_card_bind(actor=actor, code=card.code)
        assert exc.value.code == "login_required"
    assert GiftCard.objects.get(pk=card.pk).owner is None


def test_switched_off_card_cannot_be_bound(customer, brand):
    card = gift_card_issue(actor=None, brand=brand, amount="80")
    card.is_active = False
    card.save()
    with pytest.raises(GiftCardInvalid):
        gift_card_bind(actor=customer, code=card.code)
    assert GiftCard.objects.get(pk=card.pk).owner is None


def test_store_staff_may_not_create_gift_card_money(brand, store, card):
    manager = make_staff(role=Role.STORE_MANAGER, brand=brand, stores=[store], phone="13700000046")
    cook = make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[store], phone="13700000047")
    for actor in (manager, cook):
        with pytest.raises(GiftCardInvalid) as exc:
            gift_card_issue(actor=actor, brand=brand, amount="10")
        assert exc.value.code == "not_yours"
        with pytest.raises(GiftCardInvalid):
            gift_card_top_up(actor=actor, card_id=card.pk, amount="10")
    assert GiftCard.objects.count() == 1 and _balance(card) == Decimal("100.00")


@pytest.mark.parametrize("card_id", ["abc", "1.5", [1], {"x": 1}])
def test_a_card_id_that_is_not_a_number_is_an_invalid_card(card_id, customer, order, card):
    with pytest.raises(GiftCardInvalid):
        payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card_id})
    assert _balance(card) == Decimal("100.00") and not Payment.objects.exists()
