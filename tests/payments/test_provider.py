"""External payments against a scriptable provider: opening, notifications, polling, late and
second payments, amount mismatches, and resuming after a crash."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from ordering.models import Order, OrderStatus
from ordering.selectors import order_money
from ordering.services import orders_expire_due
from payments.gateways import GatewayError, GatewayUnavailable
from payments.models import Payment, PaymentEvent, PaymentStatus, RefundAttempt, RefundAttemptStatus, RefundOrigin
from payments.selectors import order_amount_due
from payments.services import payment_create
from payments.services import provider as provider_services
from payments.services.provider import payment_sync, payments_check_due
from payments.services.refunding import refund_attempts_check_due
from tests.payments.fakes import FakeProvider, install, uninstall

pytestmark = pytest.mark.django_db

NOTIFY = "/api/v1/payments/notify/fakepay/"


@pytest.fixture
def fake():
    provider = install(FakeProvider())
    yield provider
    uninstall(provider)


def _pay(customer, order, channel="fakepay", **kwargs):
    return payment_create(actor=customer, order_id=order.pk, channel=channel, **kwargs)


def _notify(client, payment, *, event_id="evt_1", kind="payment.succeeded", signature="good"):
    body = json.dumps({"id": event_id, "type": kind, "out_trade_no": payment.out_trade_no})
    return client.post(NOTIFY, body, content_type="application/json", HTTP_X_FAKE_SIGNATURE=signature)


def _actions(obj_id=None):
    qs = AuditEvent.objects.order_by("pk")
    if obj_id is not None:
        qs = qs.filter(object_id=str(obj_id))
    return list(qs.values_list("action", flat=True))


def test_opening_an_external_payment_sends_the_payer_to_the_provider(fake, customer, order):
    result = _pay(customer, order)
    payment = result.payment
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert result.action.kind == "redirect" and result.action.url == f"https://fakepay.test/pay/{payment.out_trade_no}"
    assert payment.action_url == result.action.url
    assert payment.pay_before == order.expires_at
    assert payment.next_check_at is not None
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order_amount_due(order) == Decimal("45.00")  # waiting payments do not count
    assert _actions(payment.pk) == ["payment.created", "payment.started"]
    assert list(payment.events.values_list("kind", "outcome")) == [("start", "started")]


def test_paying_again_on_the_same_channel_reuses_the_waiting_payment(fake, customer, order):
    first = _pay(customer, order).payment
    second = _pay(customer, order)
    assert second.payment.pk == first.pk and second.action.url.endswith(first.out_trade_no)
    assert Payment.objects.filter(order=order).count() == 1


def test_a_timeout_when_opening_is_unknown_never_failed_and_is_settled_by_query(fake, customer, order):
    fake.start_error = GatewayUnavailable("read timeout")
    payment = _pay(customer, order).payment
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.UNKNOWN
    assert payment.next_check_at is not None
    # The provider did get it, and the customer paid.
    fake.pay(payment)
    assert payments_check_due(now=timezone.now() + timedelta(minutes=1)) == 1
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.payer_account == "9876"
    assert order.status == OrderStatus.PAID and len(order.pickup_code) == 6


def test_a_definite_refusal_when_opening_fails_the_payment_and_the_order_stays_payable(fake, customer, order):
    fake.start_error, fake.start_takes_effect = GatewayError("PARAM_ERROR", "bad amount"), False
    payment = _pay(customer, order).payment
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.failure_code == "PARAM_ERROR"
    assert payment.next_check_at is None
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT and order_amount_due(order) == Decimal("45.00")


def test_a_notification_is_only_a_hint_the_provider_is_asked(fake, client, customer, order):
    payment = _pay(customer, order).payment
    response = _notify(client, payment)  # says succeeded; the provider says it is not paid
    assert response.status_code == 200 and response.json()["outcome"] == "recorded"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    event = PaymentEvent.objects.get(provider_event_id="evt_1")
    assert event.kind == "notification" and event.payload["query"]["status"] == "pending"


def test_a_success_notification_pays_the_order_once_and_replays_change_nothing(fake, client, customer, order):
    payment = _pay(customer, order).payment
    fake.pay(payment)
    assert _notify(client, payment).json()["outcome"] == "recorded"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    history = order.history.count()
    assert _notify(client, payment).json()["outcome"] == "duplicate"  # same event id
    assert _notify(client, payment, event_id="evt_2").status_code == 200  # same news, another id
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert order.history.count() == history
    assert _actions().count("order.paid") == 1 and _actions().count("payment.succeeded") == 1
    assert PaymentEvent.objects.filter(provider_event_id="evt_1").count() == 1
    assert PaymentEvent.objects.get(provider_event_id="evt_2").outcome == "already_final"


@pytest.mark.parametrize(
    "body, headers, status, code",
    [
        ('{"id": "e", "type": "payment.succeeded"}', {"HTTP_X_FAKE_SIGNATURE": "forged"}, 400, "bad_signature"),
        ("not json", {"HTTP_X_FAKE_SIGNATURE": "good"}, 400, "malformed"),
        ("{}", {"HTTP_X_FAKE_SIGNATURE": "good"}, 400, "malformed"),
    ],
    ids=["forged", "not-json", "missing-fields"],
)
def test_refused_notifications_change_nothing(fake, client, customer, order, body, headers, status, code):
    payment = _pay(customer, order).payment
    fake.pay(payment)
    events = PaymentEvent.objects.count()
    response = client.post(NOTIFY, body, content_type="application/json", **headers)
    assert response.status_code == status and response.json()["code"] == code
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert PaymentEvent.objects.count() == events


def test_oversized_notification_and_unknown_channel(fake, client, customer, order, settings):
    settings.PAYMENT_NOTIFICATION_MAX_BYTES = 1000
    response = client.post(NOTIFY, "x" * 5000, content_type="application/json", HTTP_X_FAKE_SIGNATURE="good")
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    response = client.post("/api/v1/payments/notify/nosuchpay/", "{}", content_type="application/json")
    assert response.status_code == 404 and response.json()["code"] == "unknown_channel"
    assert client.get(NOTIFY).status_code == 405
    # A wallet channel takes no notifications.
    assert client.post("/api/v1/payments/notify/gift_card/", "{}", content_type="application/json").status_code == 404


def test_an_event_about_an_unknown_payment_is_stored_and_acknowledged(fake, client):
    body = json.dumps({"id": "evt_x", "type": "payment.succeeded", "out_trade_no": "0" * 32})
    response = client.post(NOTIFY, body, content_type="application/json", HTTP_X_FAKE_SIGNATURE="good")
    assert response.status_code == 200 and response.json()["outcome"] == "unknown_payment"
    assert PaymentEvent.objects.get(provider_event_id="evt_x").outcome == "unknown_payment"


def test_no_answer_from_the_provider_after_a_notification_schedules_a_check(fake, client, customer, order):
    payment = _pay(customer, order).payment
    fake.pay(payment)
    fake.down = True
    assert _notify(client, payment).json()["outcome"] == "check_scheduled"
    fake.down = False
    payments_check_due(now=timezone.now() + timedelta(seconds=1))
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_a_second_successful_payment_is_refunded_automatically(fake, customer, order, card,
                                                                django_capture_on_commit_callbacks):
    waiting = _pay(customer, order).payment  # a WeChat page left open in another tab
    with django_capture_on_commit_callbacks(execute=True):
        paid = _pay(customer, order, channel="gift_card", params={"gift_card": card.pk})
    assert paid.order_paid
    fake.pay(waiting)
    with django_capture_on_commit_callbacks(execute=True):
        payment_sync(payment_id=waiting.pk)
    waiting.refresh_from_db()
    attempt = RefundAttempt.objects.get(payment=waiting)
    assert attempt.origin == RefundOrigin.DUPLICATE and attempt.amount == Decimal("45.00")
    assert attempt.out_refund_no == f"auto{waiting.id.hex}"
    assert attempt.status == RefundAttemptStatus.SUCCEEDED and fake.refund_calls == 1
    assert waiting.status == PaymentStatus.REFUNDED
    order.refresh_from_db()
    facts = order_money(order)
    assert order.status == OrderStatus.PAID
    assert (facts.paid, facts.refunded) == (Decimal("90.00"), Decimal("45.00"))
    assert "payment.refunded_automatically" in _actions(waiting.pk)
    assert "payment.refund_succeeded" in _actions(attempt.pk)


def test_a_success_for_an_order_cancelled_meanwhile_is_refunded_not_revived(fake, customer, order,
                                                                           django_capture_on_commit_callbacks):
    payment = _pay(customer, order).payment
    # However it happened (staff, a bug elsewhere), the order ended while the payment waited.
    locked = Order.objects.get(pk=order.pk)
    locked.cancel(reason="customer")
    locked.save()
    fake.pay(payment)
    with django_capture_on_commit_callbacks(execute=True):
        payment_sync(payment_id=payment.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED  # never revived
    attempt = RefundAttempt.objects.get(payment=payment)
    assert attempt.origin == RefundOrigin.LATE and attempt.status == RefundAttemptStatus.SUCCEEDED


def test_a_payment_waiting_past_the_orders_time_holds_the_order_until_the_provider_answers(fake, customer, order):
    payment = _pay(customer, order).payment
    later = order.expires_at + timedelta(seconds=5)
    assert orders_expire_due(now=later) == 0  # the payment may still succeed
    fake.pay(payment)  # paid at the last second
    payment_sync(payment_id=payment.pk, now=later)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_an_unpaid_payment_is_closed_at_the_provider_when_the_time_is_up_then_the_order_expires(
    fake, customer, order
):
    payment = _pay(customer, order).payment
    later = order.expires_at + timedelta(seconds=5)
    payments_check_due(now=later)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert fake.trades[payment.out_trade_no]["status"] == "closed"  # can never be paid any more
    assert list(payment.events.order_by("pk").values_list("kind", flat=True)) == ["start", "close"]
    assert orders_expire_due(now=later) == 1
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_a_different_amount_from_the_provider_fails_the_payment_and_is_audited(fake, customer, order):
    payment = _pay(customer, order).payment
    fake.pay(payment, amount=Decimal("0.01"))
    payment_sync(payment_id=payment.pk)
    payment.refresh_from_db()
    order.refresh_from_db()
    # It ends: failed for good, not paid, not asked about again; the order can be paid again.
    assert payment.status == PaymentStatus.FAILED and payment.failure_code == "amount_mismatch"
    assert "0.01" in payment.failure_message and "45.00" in payment.failure_message
    assert payment.next_check_at is None and payment.finished_at is not None
    assert order.status == OrderStatus.PENDING_PAYMENT and order.pickup_code == ""
    assert order_amount_due(order) == Decimal("45.00") and order_money(order).paid == Decimal("0.00")
    event = payment.events.order_by("pk").last()
    assert (event.outcome, event.detail, event.payload["amount"]) == ("pending->failed", "amount_mismatch", "0.01")
    audit = AuditEvent.objects.get(object_id=str(payment.pk), action="payment.amount_mismatch")
    assert audit.reason == "amount_mismatch"
    assert (audit.data["provider_amount"], audit.data["our_amount"], audit.data["status"]) == ("0.01", "45.00",
                                                                                              "failed")
    assert not RefundAttempt.objects.filter(payment=payment).exists()  # left to reconciliation
    # The checker never picks it up again, and asking again changes nothing nor audits twice.
    assert payments_check_due(now=timezone.now() + timedelta(hours=1)) == 0
    provider_services.payment_record_provider_state(
        payment_id=payment.pk, state=fake.query(payment), kind="query")
    assert _actions(payment.pk).count("payment.amount_mismatch") == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert _pay(customer, order).payment.status == PaymentStatus.PENDING  # a new payment may be made


def test_a_different_amount_in_a_notification_fails_the_payment(fake, client, customer, order):
    payment = _pay(customer, order).payment
    fake.pay(payment, amount=Decimal("99.00"))  # captured more than the order
    response = _notify(client, payment)
    assert response.status_code == 200 and response.json()["outcome"] == "recorded"
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.failure_code == "amount_mismatch"
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert "payment.amount_mismatch" in _actions(payment.pk)
    assert _notify(client, payment, event_id="evt_2").json()["outcome"] == "recorded"  # a second one: no change
    assert _actions(payment.pk).count("payment.amount_mismatch") == 1


def test_an_order_whose_only_payment_had_another_amount_is_no_longer_stuck(fake, customer, order):
    payment = _pay(customer, order).payment
    fake.pay(payment, amount=Decimal("44.99"))
    later = order.expires_at + timedelta(seconds=5)
    assert orders_expire_due(now=later) == 0  # a payment still waiting for its answer holds the order
    payments_check_due(now=later)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.failure_code == "amount_mismatch"
    assert orders_expire_due(now=later) == 1  # now it ends like any unpaid order
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert not RefundAttempt.objects.filter(payment=payment).exists()


def test_polling_backs_off_while_the_provider_does_not_answer(fake, customer, order, settings):
    settings.PAYMENT_CHECK_BACKOFF_SECONDS = [5, 10, 20]
    payment = _pay(customer, order).payment
    fake.down = True
    now = timezone.now()
    gaps = []
    for _round in range(4):
        payment.refresh_from_db()
        now = payment.next_check_at
        payment_sync(payment_id=payment.pk, now=now)
        payment.refresh_from_db()
        gaps.append((payment.next_check_at - now).total_seconds())
    assert gaps == [10, 20, 20, 20]
    assert payment.status == PaymentStatus.PENDING and payment.check_attempts == 4


def test_processing_that_dies_half_way_resumes_without_doing_anything_twice(fake, customer, order):
    # 1. The process dies after the provider opened the payment, before we recorded it.
    with mock.patch("payments.services.paying.payment_start", side_effect=RuntimeError("killed")), \
            pytest.raises(RuntimeError):
        _pay(customer, order)
    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.CREATED and payment.next_check_at is not None
    payment_start_later = payment.next_check_at + timedelta(seconds=1)
    fake.trades[payment.out_trade_no] = {"status": "pending", "amount": payment.amount}
    fake.pay(payment)
    # 2. Recording the success dies in the middle of its transaction (after the payment moved).
    with mock.patch.object(provider_services, "order_mark_paid", side_effect=RuntimeError("killed")), \
            pytest.raises(RuntimeError):
        payments_check_due_raising(payment_start_later)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CREATED  # rolled back whole
    # 3. The next run settles it, once.
    assert payments_check_due(now=payment_start_later) == 1
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and order.status == OrderStatus.PAID
    assert payments_check_due(now=payment_start_later + timedelta(hours=1)) == 0
    assert _actions().count("order.paid") == 1 and _actions().count("payment.succeeded") == 1


def payments_check_due_raising(now):
    """Like the task, but lets the error through (the task logs it and goes on)."""
    for payment in Payment.objects.filter(next_check_at__lte=now):
        payment_sync(payment_id=payment.pk, now=now)


def test_a_refund_whose_call_timed_out_is_sent_again_with_the_same_number_never_twice(
    fake, customer, order, card, django_capture_on_commit_callbacks
):
    waiting = _pay(customer, order).payment
    _pay(customer, order, channel="gift_card", params={"gift_card": card.pk})
    fake.pay(waiting)
    fake.down = True  # the refund call gets no answer
    with django_capture_on_commit_callbacks(execute=True):
        payment_sync_when_up(fake, waiting)
    attempt = RefundAttempt.objects.get(payment=waiting)
    assert attempt.status == RefundAttemptStatus.PROCESSING  # a timeout is never a failure
    fake.down = False
    refund_attempts_check_due(now=attempt.next_check_at + timedelta(seconds=1))
    refund_attempts_check_due(now=attempt.next_check_at + timedelta(hours=1))
    attempt.refresh_from_db()
    assert attempt.status == RefundAttemptStatus.SUCCEEDED
    assert list(fake.refunds) == [attempt.out_refund_no]  # one refund at the provider


def payment_sync_when_up(fake, payment):
    fake.down = False
    state = fake.query(payment)
    fake.down = True
    provider_services.payment_record_provider_state(payment_id=payment.pk, state=state, kind="query")


def test_a_failed_refund_is_final_and_audited(fake, customer, order, card, django_capture_on_commit_callbacks):
    waiting = _pay(customer, order).payment
    _pay(customer, order, channel="gift_card", params={"gift_card": card.pk})
    fake.pay(waiting)
    fake.refund_outcome = "failed"
    with django_capture_on_commit_callbacks(execute=True):
        payment_sync(payment_id=waiting.pk)
    attempt = RefundAttempt.objects.get(payment=waiting)
    assert attempt.status == RefundAttemptStatus.FAILED and attempt.failure_reason == "account closed"
    assert "payment.refund_failed" in _actions(attempt.pk)
    waiting.refresh_from_db()
    assert waiting.status == PaymentStatus.SUCCEEDED
