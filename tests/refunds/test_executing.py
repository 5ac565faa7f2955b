"""Paying refunds out through the sandbox: exactly once, failures, another destination, bank
transfers, the periodic sweep, and the allocation over several payments."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import httpx
import pytest
from django.utils import timezone

from accounts import sms
from audit.models import AuditEvent
from config.crypto import decrypt_text
from payments.gateways import registry
from payments.models import GiftCard, PaymentStatus, RefundAttempt, RefundAttemptStatus, RefundDestination
from payments.services.corporate import refund_bank_account_reveal, refund_transfer_record
from payments.services.refunding import refund_attempts_check_due
from refunds.allocation import allocate
from refunds.errors import RefundInvalid, RefundNotAllowed, RefundNotFound
from refunds.models import RefundAllocation, RefundStatus
from refunds.selectors import refund_arrival, refund_timeline
from refunds.services import (
    refund_approve,
    refund_change_destination,
    refund_retry,
    refund_submit,
    refund_sync,
    refunds_sweep,
)
from tests.accounts.factories import UserFactory
from tests.refunds.factories import ask, order_for, pay_by_wechat, run

pytestmark = pytest.mark.django_db


def _sandbox_refunds(paysim, attempt) -> dict:
    return paysim.query_refund(registry.get(attempt.payment.channel).config["mch_id"], attempt.out_refund_no)


def _refund_count(paysim, mch="wx-sandbox-mch") -> int:
    return sum(row["count"] for row in paysim.summary()["merchants"][mch]["refunds"].values())


def test_a_wechat_refund_in_review_is_paid_back_by_the_sandbox_once(paysim, customer, store, menu, hq_manager):
    order = order_for(customer, store, menu, noodles=6)  # 145.00
    payment = pay_by_wechat(paysim, customer, order)
    refund = ask(customer, order)
    assert refund.status == RefundStatus.PENDING_REVIEW
    arrival = refund_arrival(refund)
    assert not arrival.at_once and arrival.earliest < arrival.latest  # 1-3 business days
    refund = run(refund_approve, actor=hq_manager, refund_id=refund.pk)
    allocation = RefundAllocation.objects.get(refund=refund)
    attempt = allocation.attempt
    assert attempt.out_refund_no == f"rr{refund.id.hex}01" and attempt.payment == payment
    assert refund.status == RefundStatus.SUCCEEDED and attempt.status == RefundAttemptStatus.SUCCEEDED
    assert _sandbox_refunds(paysim, attempt)["amount"] == 14500
    # Submitting, syncing and asking again change nothing: one refund at the sandbox.
    refund_submit(refund_id=refund.pk)
    refund_sync(refund_id=refund.pk)
    refund_attempts_check_due(now=timezone.now() + timedelta(hours=1))
    assert _refund_count(paysim) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    steps = [step.label for step in refund_timeline(refund)]
    assert steps[0] and len(steps) >= 4


def test_a_refund_that_stays_processing_is_asked_about_until_it_succeeds(paysim, customer, store, menu):
    order = order_for(customer, store, menu)
    pay_by_wechat(paysim, customer, order)
    paysim.configure({"refund_processing_seconds": 60})
    refund = ask(customer, order)
    assert refund.status == RefundStatus.PROCESSING  # auto-approved, sent, not through yet
    attempt = RefundAttempt.objects.get(allocation__refund=refund)
    assert attempt.status == RefundAttemptStatus.PROCESSING and attempt.next_check_at is not None
    run(refund_attempts_check_due, now=timezone.now() + timedelta(seconds=6))
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSING  # asked: still processing there
    paysim.clock = lambda: time.time() + 120  # the sandbox's minute has passed
    run(refund_attempts_check_due, now=timezone.now() + timedelta(minutes=5))
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED


class _FlakyRefunds(httpx.BaseTransport):
    """The sandbox's transport, with the next refund calls going wrong: ``lost`` (the sandbox makes
    the refund, its answer never arrives), ``unsent`` (the call never reaches it) or ``5xx``."""

    def __init__(self, inner, mode: str, times: int = 1):
        self.inner, self.mode, self.left = inner, mode, times

    def handle_request(self, request):
        if request.method == "POST" and request.url.path == "/v1/refunds" and self.left > 0:
            self.left -= 1
            if self.mode == "unsent":
                raise httpx.ConnectTimeout("timed out", request=request)
            if self.mode == "lost":
                self.inner.handle_request(request).read()
                raise httpx.ReadTimeout("timed out", request=request)
            return httpx.Response(503, request=request, text="busy")
        return self.inner.handle_request(request)


@pytest.mark.parametrize("mode", ["lost", "unsent", "5xx"])
def test_a_refund_call_without_an_answer_is_never_a_failure_and_is_sent_again_with_the_same_number(
        paysim, customer, store, menu, monkeypatch, mode):
    from payments.gateways.paysim import PaysimGateway

    order = order_for(customer, store, menu)  # 45.00, approved at once
    payment = pay_by_wechat(paysim, customer, order)
    monkeypatch.setattr(PaysimGateway, "transport", _FlakyRefunds(PaysimGateway.transport, mode, times=2))
    refund = ask(customer, order)
    attempt = RefundAttempt.objects.get(allocation__refund=refund)
    assert refund.status == RefundStatus.PROCESSING and attempt.status == RefundAttemptStatus.PROCESSING
    assert _refund_count(paysim) == (1 if mode == "lost" else 0)
    number = attempt.out_refund_no
    # The next check gets no answer either: still processing, asked again later (back-off).
    first_check = attempt.next_check_at
    run(refund_attempts_check_due, now=first_check + timedelta(seconds=1))
    attempt.refresh_from_db()
    assert attempt.status == RefundAttemptStatus.PROCESSING and attempt.next_check_at > first_check
    # The line is back: the same number is sent again, and the sandbox pays it out once.
    run(refund_attempts_check_due, now=attempt.next_check_at + timedelta(seconds=1))
    attempt.refresh_from_db()
    refund.refresh_from_db()
    assert attempt.status == RefundAttemptStatus.SUCCEEDED and refund.status == RefundStatus.SUCCEEDED
    assert RefundAttempt.objects.filter(payment=payment).count() == 1 and attempt.out_refund_no == number
    assert _sandbox_refunds(paysim, attempt)["amount"] == 4500 and _refund_count(paysim) == 1
    assert not AuditEvent.objects.filter(action__in=["refund.failed", "payment.refund_failed"]).exists()


def test_a_failed_refund_goes_to_gift_card_credit_at_the_customers_choice(paysim, customer, store, menu, english):
    order = order_for(customer, store, menu)
    pay_by_wechat(paysim, customer, order)
    paysim.configure({"refund_fail_rate": 1.0})
    sms.outbox.clear()
    refund = ask(customer, order)
    assert refund.status == RefundStatus.FAILED and "account closed" in refund.failure_reason
    assert "account closed" in sms.outbox[-1].text and "45.00" in sms.outbox[-1].text  # the SMS, in Chinese
    failed = RefundAllocation.objects.get(refund=refund)
    assert not GiftCard.objects.filter(owner=customer).exists()
    event = AuditEvent.objects.get(action="refund.failed", object_id=str(refund.pk))
    assert event.actor_type == "system" and event.amount == Decimal("45.00") and "account closed" in event.reason

    with pytest.raises(RefundInvalid):
        refund_change_destination(actor=customer, refund_id=refund.pk, destination="original")
    with pytest.raises(RefundNotFound):
        refund_change_destination(actor=UserFactory(phone="13800000077"), refund_id=refund.pk,
                                  destination="gift_card")
    refund = run(refund_change_destination, actor=customer, refund_id=refund.pk, destination="gift_card",
                 ip="10.2.2.2")
    assert refund.status == RefundStatus.SUCCEEDED
    card = GiftCard.objects.get(owner=customer)
    assert card.balance == Decimal("45.00") and card.brand_id == order.brand_id
    assert sum(card.entries.values_list("amount", flat=True)) == card.balance
    new = RefundAllocation.objects.get(replaces=failed)
    assert new.attempt.destination == RefundDestination.GIFT_CARD and new.attempt.credit_card == card
    assert new.attempt.out_refund_no == f"rr{refund.id.hex}02"
    assert refund_arrival(refund).at_once
    event = AuditEvent.objects.get(action="refund.destination_changed")
    assert event.actor_id == customer.pk and event.data["destination"] == "gift_card"
    assert event.ip == "10.2.2.2" and event.amount == Decimal("45.00")
    # Only once: the refund is no longer failed.
    with pytest.raises(RefundNotAllowed):
        refund_change_destination(actor=customer, refund_id=refund.pk, destination="gift_card")
    assert _refund_count(paysim) == 1  # the failed one, never retried


def test_a_failed_refund_by_bank_transfer_is_recorded_by_hq_with_a_receipt(paysim, customer, store, menu,
                                                                            hq_manager):
    order = order_for(customer, store, menu)
    pay_by_wechat(paysim, customer, order)
    paysim.configure({"refund_fail_rate": 1.0})
    refund = ask(customer, order)
    with pytest.raises(RefundInvalid) as exc:
        refund_change_destination(actor=customer, refund_id=refund.pk, destination="bank_transfer",
                                  bank_name="工商银行", account_name="张三", account_number="12ab")
    assert exc.value.code == "invalid_bank_account"
    refund = run(refund_change_destination, actor=customer, refund_id=refund.pk, destination="bank_transfer",
                 bank_name="工商银行上海分行", account_name="张三", account_number="6222 0210 0112 3456 789")
    assert refund.status == RefundStatus.PROCESSING
    attempt = RefundAllocation.objects.get(refund=refund, replaces__isnull=False).attempt
    assert attempt.bank_account_last4 == "6789" and "62220210" not in attempt.bank_account_encrypted
    assert decrypt_text(attempt.bank_account_encrypted) == "6222021001123456789"
    assert attempt.next_check_at is None and attempt.status == RefundAttemptStatus.PROCESSING
    assert "62220210" not in str(AuditEvent.objects.filter(action__startswith="refund.").values_list("data"))
    assert refund_bank_account_reveal(actor=hq_manager, attempt=attempt) == "6222021001123456789"
    assert AuditEvent.objects.filter(action="payment.refund_bank_account_viewed", actor_id=hq_manager.pk).count() == 1
    run(refund_transfer_record, actor=hq_manager, attempt_id=attempt.pk, reference="ICBC-20261203-01")
    refund.refresh_from_db()
    attempt.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert attempt.transfer_reference == "ICBC-20261203-01" and bytes(attempt.receipt_pdf).startswith(b"%PDF")


def test_staff_retry_a_failed_refund_through_the_original_channel(paysim, customer, store, menu, hq_manager):
    order = order_for(customer, store, menu)
    pay_by_wechat(paysim, customer, order)
    paysim.configure({"refund_fail_rate": 1.0})
    refund = ask(customer, order)
    with pytest.raises(Exception):  # noqa: B017 - the customer may not retry: only redirect
        refund_retry(actor=customer, refund_id=refund.pk)
    paysim.configure({"refund_fail_rate": 0.0})
    refund = run(refund_retry, actor=hq_manager, refund_id=refund.pk)
    assert refund.status == RefundStatus.SUCCEEDED
    attempts = list(RefundAttempt.objects.filter(allocation__refund=refund).order_by("created_at"))
    assert [a.status for a in attempts] == ["failed", "succeeded"]
    assert attempts[0].out_refund_no != attempts[1].out_refund_no


def test_the_sweep_sends_what_a_lost_task_did_not(customer, store, menu):
    from tests.refunds.factories import paid

    order = paid(customer, store, menu)
    refund = ask(customer, order, execute=False)  # approved, but its task never ran
    assert refund.status == RefundStatus.APPROVED and not RefundAllocation.objects.exists()
    assert refunds_sweep(now=timezone.now()) == 0  # within the grace minute: the task may still come
    run(refunds_sweep, now=timezone.now() + timedelta(minutes=2))
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert RefundAllocation.objects.filter(refund=refund).count() == 1


def test_allocation_gives_the_payers_own_money_back_before_a_subsidy(monkeypatch):
    """The documented rule (refunds/allocation.py), on payments as they would be after a split
    checkout: subsidy 20 + WeChat 10 for a 30 CNY meal."""
    now = timezone.now()

    class Subsidy:
        refund_priority = 10

    real_get = registry.get
    monkeypatch.setattr(registry, "get", lambda channel: Subsidy() if channel == "meal_subsidy" else real_get(channel))
    monkeypatch.setattr("refunds.allocation.refundable_from", lambda p: p.amount - p.refunded)

    def payment(pk, channel, amount, minutes_ago, refunded="0"):
        return SimpleNamespace(pk=pk, channel=channel, amount=Decimal(amount), refunded=Decimal(refunded),
                               status="succeeded", succeeded_at=now - timedelta(minutes=minutes_ago))

    subsidy, wechat = payment(1, "meal_subsidy", "20.00", 5), payment(2, "wechat", "10.00", 4)
    assert [(s.payment.pk, s.amount) for s in allocate([subsidy, wechat], Decimal("10.00"))] == [(2, Decimal("10"))]
    assert [(s.payment.pk, s.amount) for s in allocate([subsidy, wechat], Decimal("25.00"))] == [
        (2, Decimal("10.00")), (1, Decimal("15.00"))]
    card_old, card_new = payment(3, "gift_card", "10.00", 9), payment(4, "gift_card", "10.00", 1)
    assert [s.payment.pk for s in allocate([card_old, card_new], Decimal("15.00"))] == [4, 3]  # latest first
    spent = payment(5, "wechat", "10.00", 1, refunded="10.00")  # e.g. refunded as a second payment
    assert [s.payment.pk for s in allocate([spent, subsidy], Decimal("5.00"))] == [1]
    with pytest.raises(ValueError):
        allocate([wechat], Decimal("10.01"))
