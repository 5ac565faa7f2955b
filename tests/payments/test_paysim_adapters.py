"""The wechat and alipay adapters against the real sandbox (in process): paying, notifications,
refunds with their number, statements, and notifications that must be refused."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from ordering.models import OrderStatus
from payments.gateways import registry
from payments.models import PaymentEvent, PaymentStatus, RefundAttempt, RefundAttemptStatus
from payments.sandbox.signing import signed_headers
from payments.services import payment_create
from payments.services.provider import payment_sync
from payments.services.refunding import refund_attempt_execute

pytestmark = pytest.mark.django_db


def _headers_for_client(headers: dict) -> dict:
    return {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}


@pytest.mark.parametrize("channel", ["wechat", "alipay"])
def test_pay_through_the_sandbox_and_its_notification_pays_the_order(paysim, customer, order, channel):
    result = payment_create(actor=customer, order_id=order.pk, channel=channel)
    payment = result.payment
    assert payment.status == PaymentStatus.PENDING
    assert result.action.kind == "redirect" and result.action.url.startswith("http://paysim.test/pay/")
    assert paysim.query_payment(registry.get(channel).config["mch_id"], payment.out_trade_no)["amount"] == 4500
    paysim.sim_pay(payment.out_trade_no)
    assert paysim.deliver_due() >= 1
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.provider_trade_no
    assert payment.payer_account and len(payment.payer_account) <= 4
    assert order.status == OrderStatus.PAID
    event = PaymentEvent.objects.get(payment=payment, kind="notification")
    assert event.event_type == "payment.succeeded" and event.outcome == "pending->succeeded"


def test_the_two_channels_are_two_merchants_with_their_own_keys(paysim, customer, order):
    payment = payment_create(actor=customer, order_id=order.pk, channel="wechat").payment
    # The alipay merchant does not know the wechat payment.
    assert registry.get("alipay").query(payment).status == "not_found"
    assert registry.get("wechat").query(payment).status == "pending"


def test_payer_cancelling_at_the_sandbox_cancels_the_payment_and_the_order_stays_payable(paysim, customer, order):
    payment = payment_create(actor=customer, order_id=order.pk, channel="wechat").payment
    trade_no = payment.action_url.rsplit("/", 1)[-1]
    assert paysim.payer_cancel(trade_no) is not None
    paysim.deliver_due()
    payment.refresh_from_db()
    order.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED and order.status == OrderStatus.PENDING_PAYMENT
    again = payment_create(actor=customer, order_id=order.pk, channel="alipay")
    assert again.payment.status == PaymentStatus.PENDING


def test_a_duplicate_payment_is_refunded_at_the_sandbox_once(paysim, customer, order, card,
                                                            django_capture_on_commit_callbacks):
    waiting = payment_create(actor=customer, order_id=order.pk, channel="wechat").payment
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    paysim.sim_pay(waiting.out_trade_no)
    with django_capture_on_commit_callbacks(execute=True):
        payment_sync(payment_id=waiting.pk)
    attempt = RefundAttempt.objects.get(payment=waiting)
    assert attempt.status == RefundAttemptStatus.SUCCEEDED
    refund_attempt_execute(attempt_id=attempt.pk)  # asked again: nothing more happens
    mch = registry.get("wechat").config["mch_id"]
    refund = paysim.query_refund(mch, attempt.out_refund_no)
    assert refund["status"] == "SUCCESS" and refund["amount"] == 4500
    today = timezone.localdate()
    statement = registry.get("wechat").statement(today)
    assert [line.reference for line in statement.captures] == [waiting.out_trade_no]
    assert [(line.reference, line.amount) for line in statement.refunds] == [(attempt.out_refund_no,
                                                                             Decimal("45.00"))]
    waiting.refresh_from_db()
    assert waiting.status == PaymentStatus.REFUNDED


def test_a_refund_that_stays_processing_is_asked_about_until_it_succeeds(paysim, customer, order, card,
                                                                        django_capture_on_commit_callbacks):
    paysim.configure({"refund_processing_seconds": 1})
    waiting = payment_create(actor=customer, order_id=order.pk, channel="alipay").payment
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    paysim.sim_pay(waiting.out_trade_no)
    with django_capture_on_commit_callbacks(execute=True):
        payment_sync(payment_id=waiting.pk)
    attempt = RefundAttempt.objects.get(payment=waiting)
    assert attempt.status == RefundAttemptStatus.PROCESSING and attempt.provider_refund_id
    time.sleep(1.1)
    paysim.deliver_due()  # the sandbox settles it and notifies; the hint makes us ask
    attempt.refresh_from_db()
    assert attempt.status == RefundAttemptStatus.SUCCEEDED


def test_a_refund_refused_for_a_closed_account_fails(paysim, customer, order, card,
                                                    django_capture_on_commit_callbacks):
    paysim.configure({"refund_fail_rate": 1.0})
    waiting = payment_create(actor=customer, order_id=order.pk, channel="wechat").payment
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    paysim.sim_pay(waiting.out_trade_no)
    with django_capture_on_commit_callbacks(execute=True):
        payment_sync(payment_id=waiting.pk)
    attempt = RefundAttempt.objects.get(payment=waiting)
    if attempt.status == RefundAttemptStatus.PROCESSING:
        refund_attempt_execute(attempt_id=attempt.pk)
        attempt.refresh_from_db()
    assert attempt.status == RefundAttemptStatus.FAILED and "account closed" in attempt.failure_reason


def _signed_post(client, channel, body: str, *, key=None, mch=None, timestamp=None):
    conf = registry.get(channel).config
    headers = signed_headers(mch or conf["mch_id"], key or conf["key"], "POST", "notify", body, timestamp=timestamp)
    return client.post(f"/api/v1/payments/notify/{channel}/", body, content_type="application/json",
                       **_headers_for_client(headers))


def test_forged_stale_malformed_and_replayed_notifications(paysim, client, customer, order):
    payment = payment_create(actor=customer, order_id=order.pk, channel="wechat").payment
    paysim.sim_pay(payment.out_trade_no)
    body = json.dumps({"id": "evt_test_1", "type": "payment.succeeded",
                       "resource": {"out_trade_no": payment.out_trade_no, "status": "SUCCESS", "amount": 4500}})
    events = PaymentEvent.objects.count()
    forged = _signed_post(client, "wechat", body, key="not-the-key")
    assert forged.status_code == 400 and forged.json()["code"] == "bad_signature"
    other_merchant = _signed_post(client, "wechat", body, mch="ali-sandbox-mch")
    assert other_merchant.status_code == 400
    stale = _signed_post(client, "wechat", body, timestamp=int(time.time()) - 3600)
    assert stale.status_code == 400 and stale.json()["code"] == "stale"
    malformed = _signed_post(client, "wechat", '{"id": 5}')
    assert malformed.status_code == 400 and malformed.json()["code"] == "malformed"
    unsigned = client.post("/api/v1/payments/notify/wechat/", body, content_type="application/json")
    assert unsigned.status_code == 400 and unsigned.json()["code"] == "unsigned"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and PaymentEvent.objects.count() == events
    # The real one, then the same one replayed.
    assert _signed_post(client, "wechat", body).json()["outcome"] == "recorded"
    assert _signed_post(client, "wechat", body).json()["outcome"] == "duplicate"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert PaymentEvent.objects.filter(provider_event_id="evt_test_1").count() == 1


def test_the_api_pays_with_wechat_and_answers_with_the_payer_page(paysim, client, customer, order):
    client.force_login(customer)
    response = client.post(f"/api/v1/orders/{order.pk}/payments/", {"channel": "wechat"},
                           content_type="application/json")
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "pending" and data["action"]["kind"] == "redirect"
    assert data["action"]["url"].startswith("http://paysim.test/pay/")
    assert data["order"]["status"] == "pending_payment" and data["order"]["pickup_code"] is None
    bad = client.post(f"/api/v1/orders/{order.pk}/payments/", {"channel": "bitcoin"}, content_type="application/json")
    assert bad.status_code == 400 and bad.json()["code"] == "unknown_channel"
