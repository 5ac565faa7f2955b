"""Asking for a refund: eligibility, the amount, the automatic decision, and bad input that
changes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from accounts import sms
from accounts.models import SmsCode
from accounts.services import SmsCodeInvalid, user_freeze
from audit.models import AuditEvent
from ordering.errors import OrderNotFound
from ordering.models import OrderStatus
from ordering.services import order_cancel
from payments.models import GiftCardEntry, RefundAttempt, RefundOrigin
from payments.services.refunding import refund_attempt_create
from refunds.errors import RefundInvalid, RefundNotAllowed
from refunds.models import OrderRefundTally, RefundLine, RefundRequest, RefundStatus
from refunds.services import refund_request_create
from stores.models import StoreDishOverride
from tests.accounts.factories import UserFactory
from tests.refunds.factories import ask, cook, line_of, order_for, paid, send_code

pytestmark = pytest.mark.django_db


def _actions(**filters) -> list[str]:
    return list(AuditEvent.objects.filter(**filters).order_by("chain", "seq").values_list("action", flat=True))


def _stock(menu, store) -> int:
    return StoreDishOverride.objects.get(store=store, dish=menu.dumplings).stock


def _written() -> tuple:
    return (RefundRequest.objects.count(), RefundLine.objects.count(), RefundAttempt.objects.count(),
            AuditEvent.objects.count(), GiftCardEntry.objects.count(),
            list(OrderRefundTally.objects.values_list("committed", flat=True)))


def assert_refused(call, error, *, code=None):
    before = _written()
    with pytest.raises(error) as exc:
        call()
    if code:
        assert exc.value.code == code, exc.value.code
    assert _written() == before
    return exc.value


# --- the automatic path -------------------------------------------------------------------


def test_a_small_refund_before_preparation_is_approved_and_paid_back_at_once(customer, store, menu):
    order = paid(customer, store, menu)  # 45.00 by gift card: noodles 20.00, 2 dumplings at 12.50
    card = order.payments.get().gift_card
    assert _stock(menu, store) == 8
    sms.outbox.clear()

    refund = ask(customer, order, reason_text="", ip="203.0.113.7", user_agent="Mobile Safari")

    order.refresh_from_db()
    card.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.amount == Decimal("45.00") and refund.is_full
    assert refund.decision == "auto" and refund.requested_by == customer and refund.reviewer is None
    assert refund.ip == "203.0.113.7" and refund.network == "203.0.113.0/24" and refund.user_agent == "Mobile Safari"
    assert refund.policy["auto_approve_limit"] == "100.00" and refund.policy["version"] == 1
    assert refund.risk_flags == []
    assert order.status == OrderStatus.REFUNDED
    assert _stock(menu, store) == 10  # the two dumplings are back
    assert refund.stock_released == {str(menu.dumplings.pk): 2}
    assert card.balance == Decimal("1000.00")  # paid 45, got 45 back
    assert sum(card.entries.values_list("amount", flat=True)) == card.balance
    assert sorted(refund.lines.values_list("quantity", "amount")) == [(1, Decimal("20.00")), (2, Decimal("25.00"))]
    assert _actions(object_id=str(refund.pk)) == [
        "refund.requested", "refund.auto_approved", "refund.submitted", "refund.succeeded"]
    assert "order.refunded" in _actions(object_id=str(order.pk))
    requested = AuditEvent.objects.get(action="refund.requested", object_id=str(refund.pk))
    assert (requested.actor_id, requested.amount, requested.ip) == (customer.pk, Decimal("45.00"), "203.0.113.7")
    assert requested.reason == "changed_plans" and requested.brand_id == store.brand_id
    approved = AuditEvent.objects.get(action="refund.auto_approved", object_id=str(refund.pk))
    assert approved.actor_id is None and approved.actor_type == "system" and approved.amount == Decimal("45.00")
    texts = [m.text for m in sms.outbox]
    assert len(texts) == 3 and "验证码" in texts[0]  # the code, approved, refunded
    assert ("已通过" in texts[1] and "已退款" in texts[2]) or "45.00" in texts[2]
    history = list(refund.history.order_by("history_id").values_list("status", flat=True))
    assert history == ["requested", "approved", "processing", "succeeded"]
    tally = OrderRefundTally.objects.get(order=order)
    assert tally.paid == tally.committed == Decimal("45.00")


def test_part_of_an_order_then_the_rest(customer, store, menu):
    order = paid(customer, store, menu)
    dumplings = line_of(order, menu.dumplings)
    first = ask(customer, order, lines=[{"line": dumplings, "quantity": 1}])
    order.refresh_from_db()
    assert first.status == RefundStatus.SUCCEEDED and first.amount == Decimal("12.50") and not first.is_full
    assert order.status == OrderStatus.PAID  # still cooked for: the rest
    assert _stock(menu, store) == 9

    rest = ask(customer, order)
    order.refresh_from_db()
    assert rest.amount == Decimal("32.50") and rest.status == RefundStatus.SUCCEEDED
    assert order.status == OrderStatus.REFUNDED and _stock(menu, store) == 10
    assert sorted(rest.lines.values_list("order_line__dish_id", "quantity")) == sorted(
        [(menu.noodles.pk, 1), (menu.dumplings.pk, 1)])
    assert_refused(lambda: ask(customer, order), RefundNotAllowed, code="already_refunded")


def test_delivery_fee_comes_back_with_the_last_portion(customer, store, menu):
    store.offers_delivery, store.delivery_fee, store.delivery_radius_km = True, Decimal("6.00"), Decimal("5")
    store.save()
    order = order_for(customer, store, menu, fulfilment="delivery", address="外滩 1 号",
                      latitude=store.latitude, longitude=store.longitude, contact_phone="13800000001")
    from tests.refunds.factories import pay_by_card

    pay_by_card(customer, order)
    assert order.total == Decimal("51.00")
    part = ask(customer, order, lines=[{"line": line_of(order, menu.noodles), "quantity": 1}])
    assert part.amount == Decimal("20.00") and part.delivery_fee == 0
    rest = ask(customer, order)
    assert rest.amount == Decimal("31.00") and rest.delivery_fee == Decimal("6.00")


# --- what goes to review ------------------------------------------------------------------


def test_above_the_limit_waits_for_review_with_a_deadline(customer, store, menu):
    order = paid(customer, store, menu, noodles=6)  # 120 + 25 = 145.00
    now = timezone.now()
    refund = ask(customer, order, now=now)
    assert refund.status == RefundStatus.PENDING_REVIEW
    assert refund.review_deadline == now + timedelta(minutes=30)
    assert "amount 145.00 above 100.00" in refund.decision
    assert OrderRefundTally.objects.get(order=order).committed == Decimal("145.00")
    assert not RefundAttempt.objects.exists()  # nothing sent before approval
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and _stock(menu, store) == 8  # stock only comes back on approval


def test_the_limit_is_the_brands_setting(customer, store, menu, hq_manager):
    from refunds.services import refund_policy_update

    refund_policy_update(actor=hq_manager, brand_id=store.brand_id, changes={"auto_approve_limit": Decimal("20.00")})
    order = paid(customer, store, menu)
    refund = ask(customer, order)
    assert refund.status == RefundStatus.PENDING_REVIEW and refund.policy["version"] == 2
    assert refund.policy["auto_approve_limit"] == "20.00"
    assert AuditEvent.objects.filter(action="refund.policy_changed", actor_id=hq_manager.pk).count() == 1


def test_an_order_being_prepared_goes_to_review_even_when_small(customer, store, menu, store_manager):
    order = cook(paid(customer, store, menu), store_manager)
    refund = ask(customer, order)
    assert refund.status == RefundStatus.PENDING_REVIEW and refund.decision == "order preparing"


def test_a_collected_order_is_refunded_by_line_with_what_was_wrong_and_always_reviewed(customer, store, menu,
                                                                                        store_manager):
    from ordering.services import order_redeem

    order = paid(customer, store, menu, dumplings=3)
    cook(order, store_manager, to="ready")
    order_redeem(actor=store_manager, store=store, pickup_code=order.pickup_code)
    order.refresh_from_db()
    dumplings = line_of(order, menu.dumplings)
    assert_refused(lambda: ask(customer, order, lines=[{"line": dumplings, "quantity": 1}]), RefundInvalid,
                   code="invalid_reason")
    refund = ask(customer, order, lines=[{"line": dumplings, "quantity": 1}], reason_code="quality",
                 reason_text="one was raw")
    assert refund.status == RefundStatus.PENDING_REVIEW and refund.amount == Decimal("12.50")
    assert "order collected" in refund.decision and refund.order_status == OrderStatus.COMPLETED
    assert_refused(lambda: ask(customer, order, lines=[{"line": dumplings, "quantity": 3}], reason_code="quality"),
                   RefundInvalid, code="quantity_exceeds")


# --- refusals: nothing changes ------------------------------------------------------------


def test_bad_lines_and_quantities_are_refused_and_change_nothing(customer, store, menu, english):
    order = paid(customer, store, menu)
    dumplings = line_of(order, menu.dumplings)
    code = send_code(customer, order)
    for lines, error_code in [
        ([{"line": dumplings, "quantity": 3}], "quantity_exceeds"),
        ([{"line": 999999, "quantity": 1}], "invalid_line"),
        ([{"line": dumplings, "quantity": 0}], "invalid_quantity"),
        ([{"line": dumplings, "quantity": -1}], "invalid_quantity"),
        ([{"line": dumplings, "quantity": "abc"}], "invalid_lines"),
        ([{"line": dumplings, "quantity": 1.5}], "invalid_lines"),
        ([{"line": dumplings, "quantity": True}], "invalid_lines"),
        ([{"line": dumplings, "quantity": 1}, {"line": dumplings, "quantity": 1}], "invalid_lines"),
        ("everything", "invalid_lines"),
    ]:
        error = assert_refused(lambda lines=lines: refund_request_create(
            actor=customer, order_id=order.pk, lines=lines, reason_code="changed_plans", code=code),
            RefundInvalid, code=error_code)
        assert str(error.message)
    assert_refused(lambda: refund_request_create(actor=customer, order_id=order.pk, reason_code="nope", code=code),
                   RefundInvalid, code="invalid_reason")
    assert_refused(lambda: refund_request_create(actor=customer, order_id=order.pk, reason_code="other", code=code),
                   RefundInvalid, code="invalid_reason")
    # The code was never spent on refused input: it still works.
    assert ask(customer, order, code=code).status == RefundStatus.SUCCEEDED


def test_another_customers_order_is_unknown(customer, store, menu):
    order = paid(customer, store, menu)
    stranger = UserFactory(phone="13800000099")
    assert_refused(lambda: refund_request_create(actor=stranger, order_id=order.pk, reason_code="changed_plans",
                                                 code="123456"), OrderNotFound)
    assert_refused(lambda: refund_request_create(actor=customer, order_id="not-a-uuid", reason_code="changed_plans",
                                                 code="123456"), OrderNotFound)


def test_more_than_the_order_still_keeps_is_refused_and_changes_nothing(customer, store, menu, english):
    order = paid(customer, store, menu)  # 45.00 by gift card
    payment = order.payments.get()
    # The payments app sent 30.00 back by itself (the amount paid did not match): 15.00 is left.
    with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
        refund_attempt_create(payment=payment, amount=Decimal("30.00"), origin=RefundOrigin.AMOUNT_MISMATCH,
                              reason="amount mismatch")
    code = send_code(customer, order)
    error = assert_refused(lambda: refund_request_create(
        actor=customer, order_id=order.pk, reason_code="changed_plans", code=code), RefundNotAllowed,
        code="exceeds_refundable")
    assert error.message == "At most 15.00 CNY of this order can still be refunded."
    # What is left can be asked for (a new code: the refused request spent the first one).
    dumpling = ask(customer, order, lines=[{"line": line_of(order, menu.dumplings), "quantity": 1}])
    assert dumpling.status == RefundStatus.SUCCEEDED and dumpling.amount == Decimal("12.50")
    assert OrderRefundTally.objects.get(order=order).committed == Decimal("12.50")


def test_unpaid_and_cancelled_orders_have_nothing_to_refund(customer, store, menu):
    unpaid = order_for(customer, store, menu)
    assert_refused(lambda: refund_request_create(actor=customer, order_id=unpaid.pk, reason_code="changed_plans",
                                                 code="123456"), RefundNotAllowed, code="not_paid")
    order_cancel(actor=customer, order_id=unpaid.pk)
    assert_refused(lambda: refund_request_create(actor=customer, order_id=unpaid.pk, reason_code="changed_plans",
                                                 code="123456"), RefundNotAllowed, code="not_paid")


def test_a_missing_or_wrong_code_is_refused_and_nothing_is_written(customer, store, menu):
    order = paid(customer, store, menu)
    for code in ("", "12345", "abcdef"):
        assert_refused(lambda code=code: refund_request_create(
            actor=customer, order_id=order.pk, reason_code="changed_plans", code=code), SmsCodeInvalid)
    right = send_code(customer, order)
    wrong = "000000" if right != "000000" else "111111"
    with pytest.raises(SmsCodeInvalid):
        refund_request_create(actor=customer, order_id=order.pk, reason_code="changed_plans", code=wrong)
    assert not RefundRequest.objects.exists()
    # A login code is not a refund code.
    from accounts.services import sms_code_request
    from tests.accounts.helpers import code_from_outbox

    with TestCase.captureOnCommitCallbacks(execute=True):
        sms_code_request(phone=customer.phone)
    login = code_from_outbox(customer.phone)
    assert login != right
    with pytest.raises(SmsCodeInvalid):
        refund_request_create(actor=customer, order_id=order.pk, reason_code="changed_plans", code=login)
    assert not RefundRequest.objects.exists()


def test_after_the_window_the_customer_is_sent_to_the_store(customer, store, menu):
    order = paid(customer, store, menu)
    later = timezone.now() + timedelta(days=8)
    assert_refused(lambda: refund_request_create(actor=customer, order_id=order.pk, reason_code="changed_plans",
                                                 code="123456", now=later), RefundNotAllowed, code="too_late")


def test_a_frozen_account_is_told_why(customer, store, menu, english):
    order = paid(customer, store, menu)
    user_freeze(user=customer, reason="chargeback fraud")
    error = assert_refused(lambda: refund_request_create(actor=customer, order_id=order.pk,
                                                         reason_code="changed_plans", code="123456"),
                           RefundNotAllowed, code="account_frozen")
    assert error.status_code == 403 and "chargeback fraud" in str(error.message)


def test_a_request_refused_under_the_lock_still_spends_its_code(customer, store, menu):
    """What other requests hold is checked after the code: the refusal rolls back to a savepoint,
    and the code, used once, cannot be used again."""
    order = paid(customer, store, menu, noodles=6)
    ask(customer, order, lines=[{"line": line_of(order, menu.noodles), "quantity": 6}])  # to review
    code = send_code(customer, order)
    assert_refused(lambda: ask(customer, order, lines=[{"line": line_of(order, menu.noodles), "quantity": 1}],
                               code=code), RefundInvalid, code="quantity_exceeds")
    assert SmsCode.objects.filter(phone=customer.phone, purpose="refund").latest("created_at").used_at is not None
    assert_refused(lambda: ask(customer, order, code=code), SmsCodeInvalid)


def test_requests_never_hold_more_than_was_paid(customer, store, menu):
    order = paid(customer, store, menu, noodles=6)  # 145.00, goes to review
    first = ask(customer, order, lines=[{"line": line_of(order, menu.noodles), "quantity": 6}])
    assert first.status == RefundStatus.PENDING_REVIEW and first.amount == Decimal("120.00")
    assert_refused(lambda: ask(customer, order, lines=[{"line": line_of(order, menu.noodles), "quantity": 1}]),
                   RefundInvalid, code="quantity_exceeds")
    rest = ask(customer, order)
    assert rest.amount == Decimal("25.00")
    tally = OrderRefundTally.objects.get(order=order)
    assert tally.committed == tally.paid == Decimal("145.00")
    assert_refused(lambda: ask(customer, order), RefundNotAllowed, code="nothing_to_refund")
