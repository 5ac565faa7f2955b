"""Sending money back through a payment's own channel (refund attempts).

A refund attempt is created inside the caller's transaction (``refund_attempt_create``), under the
payment's row lock, which is where the rule "the refunds of a payment never exceed its amount" is
checked. It is executed after commit by ``refund_attempt_execute_task``:

- wallets (gift card, subsidy) refund inside one transaction, at once;
- external providers are called outside any transaction with the attempt's ``out_refund_no``, the
  same on every retry, so the provider never refunds it twice. No answer (timeout, 5xx) leaves the
  attempt ``processing`` and it is asked about again on a back-off schedule
  (``refund_attempts_check_due``); a timeout is never a failure;
- bank transfers (corporate payments, and refunds a customer redirected to a bank account after
  the original channel failed) stay ``processing`` until staff record the transfer
  (``refund_transfer_record``); a refund redirected to a gift card is credited at once.

Each outcome is recorded once: the attempt row is locked and a final attempt is never moved
again. ``refund_attempt_finished`` is sent after commit when an attempt succeeds or fails, for the
refunds app to follow its requests.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from config.crypto import encrypt_text

from ..errors import PaymentNotAllowed
from ..gateways import GatewayError, GatewayUnavailable, ProviderRefund, registry
from ..ledger import gift_card_append, gift_card_lock
from ..models import (
    GiftCardEntryKind,
    PaymentEventKind,
    PaymentStatus,
    RefundAttempt,
    RefundAttemptStatus,
    RefundDestination,
)
from ._common import _clean_amount, _user, event_record

logger = logging.getLogger(__name__)

refund_attempt_finished = Signal()  # sender=RefundAttempt, attempt=..., succeeded=bool (after commit)

FINAL = (RefundAttemptStatus.SUCCEEDED, RefundAttemptStatus.FAILED)
# Provider answers that will not change by asking again: the attempt fails for good.
DEFINITE_REFUSALS = {"REFUND_AMOUNT_EXCEEDED", "ORDER_NOT_EXIST", "ORDER_CLOSED", "OUT_REFUND_NO_USED",
                     "PARAM_ERROR"}
CHECK_BATCH = 100


def _backoff(attempts: int) -> timedelta:
    schedule = settings.PAYMENT_CHECK_BACKOFF_SECONDS
    return timedelta(seconds=schedule[min(attempts, len(schedule) - 1)])


def refunded_amount(payment) -> Decimal:
    """What has been, or is being, sent back from ``payment`` (failed attempts excluded)."""
    total = (
        RefundAttempt.objects.filter(payment=payment)
        .exclude(status=RefundAttemptStatus.FAILED)
        .aggregate(s=Sum("amount"))["s"]
    )
    return total or Decimal("0.00")


@dataclass(frozen=True)
class BankAccount:
    """Where a refund by bank transfer goes (checked by the caller: names, digits)."""

    bank_name: str
    account_name: str
    account_number: str


def _executor(attempt: RefundAttempt) -> str:
    """Who moves the money: ``wallet`` (at once, in our database), ``staff`` (a bank transfer they
    record) or ``provider`` (the payment's external gateway, called outside any transaction)."""
    if attempt.destination == RefundDestination.GIFT_CARD:
        return "wallet"
    if attempt.by_bank_transfer:
        return "staff"
    return "wallet" if registry.get(attempt.payment.channel).wallet else "provider"


def _gift_card_credit(attempt: RefundAttempt) -> ProviderRefund:
    card = gift_card_lock(card_id=attempt.credit_card_id)
    order = attempt.payment.order
    gift_card_append(card=card, kind=GiftCardEntryKind.REFUND, amount=attempt.amount, payment=attempt.payment,
                     note=f"{order.store.code} #{order.display_number}")
    return ProviderRefund(status="succeeded", provider_refund_id=f"card{card.pk}", amount=attempt.amount)


def refundable_from(payment) -> Decimal:
    """What can still be sent back from ``payment`` (nothing unless it succeeded)."""
    if payment.status != PaymentStatus.SUCCEEDED:
        return Decimal("0.00")
    return max(payment.amount - refunded_amount(payment), Decimal("0.00"))


def refund_attempt_create(*, payment, amount, origin: str, reason: str = "", actor=None,
                          out_refund_no: str | None = None, ip: str | None = None, now=None,
                          audit_events: list | None = None, destination: str = RefundDestination.ORIGINAL,
                          credit_card=None, bank: BankAccount | None = None) -> RefundAttempt:
    """Record the intent to send ``amount`` back from ``payment`` and schedule its execution.

    Call inside a transaction; locks the payment row (after the order row, if the caller holds it).
    Refuses (``PaymentNotAllowed``) when the payment did not succeed or when the attempts of the
    payment would exceed its amount. ``out_refund_no`` defaults to one derived from the attempt.
    A caller with more writes to make passes ``audit_events`` and records them last itself.

    ``destination``: back through the payment's channel (default); onto ``credit_card`` (a gift
    card of the payer's, credited at once); or by bank transfer to ``bank`` (staff record it).
    The money still counts against ``payment``: it is that payment's money going back.
    """
    from ..models import Payment
    from ..tasks import refund_attempt_execute_task

    now = now or timezone.now()
    amount = _clean_amount(amount, maximum=Decimal("1000000.00"))
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status != PaymentStatus.SUCCEEDED:
        raise PaymentNotAllowed(_("Only a payment that succeeded can be refunded."), code="not_refundable")
    left = payment.amount - refunded_amount(payment)
    if amount > left:
        raise PaymentNotAllowed(
            _("At most %(left)s CNY of this payment can still be refunded.") % {"left": left},
            code="refund_exceeds_payment",
        )
    if destination not in RefundDestination.values:
        raise PaymentNotAllowed(_("Unknown refund destination."), code="invalid_destination", status_code=400)
    if destination == RefundDestination.GIFT_CARD and (credit_card is None or credit_card.brand_id != payment.brand_id):
        raise PaymentNotAllowed(_("Choose a gift card of this brand to credit."), code="invalid_destination",
                                status_code=400)
    if destination == RefundDestination.BANK_TRANSFER and bank is None:
        raise PaymentNotAllowed(_("Give the bank account to transfer the refund to."), code="invalid_destination",
                                status_code=400)
    attempt = RefundAttempt(brand_id=payment.brand_id, payment=payment, amount=amount, origin=origin,
                            reason=reason[:200], created_by=_user(actor), created_at=now,
                            destination=destination,
                            credit_card=credit_card if destination == RefundDestination.GIFT_CARD else None,
                            # Picked up by the periodic check should the task never run.
                            next_check_at=now + _backoff(0))
    if destination == RefundDestination.BANK_TRANSFER:
        attempt.bank_name, attempt.bank_account_name = bank.bank_name, bank.account_name
        attempt.bank_account_last4 = bank.account_number[-4:]
        attempt.bank_account_encrypted = encrypt_text(bank.account_number)
    attempt.out_refund_no = out_refund_no or f"rf{attempt.id.hex}"
    attempt._history_user = _user(actor)
    attempt.save(force_insert=True)
    event = {
        "action": "payment.refund_requested", "actor": _user(actor), "obj": attempt, "brand_id": attempt.brand_id,
        "amount": amount, "ip": ip, "reason": reason,
        "data": {"payment": str(payment.pk), "order": str(payment.order_id), "channel": payment.channel,
                 "origin": origin, "out_refund_no": attempt.out_refund_no, "destination": destination,
                 **({"bank_account": attempt.masked_bank_account} if attempt.bank_account_last4 else {})},
    }
    if audit_events is None:
        audit_record(**event)
    else:
        audit_events.append(event)
    attempt_id = attempt.pk
    transaction.on_commit(lambda: refund_attempt_execute_task.delay(attempt_id=str(attempt_id)))
    return attempt


def _lock_attempt(attempt_id) -> RefundAttempt:
    """Lock the attempt's payment, then the attempt (the lock order of ``refund_attempt_create``)."""
    from ..models import Payment

    payment_id = RefundAttempt.objects.values_list("payment_id", flat=True).get(pk=attempt_id)
    Payment.objects.select_for_update().filter(pk=payment_id).first()
    return RefundAttempt.objects.select_for_update(of=("self",)).select_related("payment__order__store").get(
        pk=attempt_id
    )


def _apply(attempt: RefundAttempt, result: ProviderRefund, *, actor=None, now=None) -> dict | None:
    """Record the provider's answer on a locked attempt; returns the audit event for the caller
    to record last when the attempt became final, else None."""
    now = now or timezone.now()
    if attempt.status in FINAL:
        return None
    attempt._history_user = _user(actor)
    payment = attempt.payment
    if result.status == "succeeded":
        attempt.succeed(provider_refund_id=result.provider_refund_id, at=result.at or now)
        attempt.save()
        payment.refresh_from_db()  # locked by _lock_attempt / refund_attempt_create
        succeeded = (
            RefundAttempt.objects.filter(payment=payment, status=RefundAttemptStatus.SUCCEEDED)
            .aggregate(s=Sum("amount"))["s"]
        )
        if payment.status == PaymentStatus.SUCCEEDED and succeeded >= payment.amount:
            payment.mark_refunded()
            payment._history_user = _user(actor)
            payment.save()
        action = "payment.refund_succeeded"
    elif result.status == "failed":
        attempt.fail(reason=result.failure_reason or _("refused by the provider"), at=now)
        attempt.save()
        action = "payment.refund_failed"
    else:  # processing: the provider has it; ask again later
        if attempt.status == RefundAttemptStatus.CREATED:
            attempt.submit(provider_refund_id=result.provider_refund_id)
        elif result.provider_refund_id:
            attempt.provider_refund_id = result.provider_refund_id
        polled = _executor(attempt) == "provider" and registry.get(payment.channel).polled
        attempt.next_check_at = now + _backoff(attempt.check_attempts) if polled else None
        attempt.save()
        return None
    done, ok = attempt, result.status == "succeeded"
    transaction.on_commit(lambda: refund_attempt_finished.send(sender=RefundAttempt, attempt=done, succeeded=ok))
    return {
        "action": action, "actor": _user(actor), "obj": attempt, "brand_id": attempt.brand_id,
        "amount": attempt.amount, "reason": attempt.failure_reason,
        "data": {"payment": str(payment.pk), "order": str(payment.order_id), "channel": payment.channel,
                 "origin": attempt.origin, "out_refund_no": attempt.out_refund_no},
    }


def refund_attempt_record(*, attempt_id, result: ProviderRefund, actor=None, kind: str = PaymentEventKind.REFUND,
                          payload: dict | None = None, now=None) -> RefundAttempt:
    """Record an answer about a refund (a provider's, or staff's for a bank transfer) once."""
    with transaction.atomic():
        attempt = _lock_attempt(attempt_id)
        before = attempt.status
        audit = _apply(attempt, result, actor=actor, now=now)
        event_record(channel=attempt.payment.channel, kind=kind, refund_attempt=attempt,
                     payment=attempt.payment, reference=attempt.out_refund_no,
                     payload=payload or {"status": result.status, "provider_refund_id": result.provider_refund_id,
                                         "failure_reason": result.failure_reason},
                     outcome=f"{before}->{attempt.status}" if before != attempt.status else attempt.status)
        if audit:
            audit_record(**audit)
    return attempt


def refund_attempt_execute(*, attempt_id, now=None) -> RefundAttempt:
    """Send the refund (or ask about it again). Safe to run any number of times."""
    now = now or timezone.now()
    attempt = RefundAttempt.objects.select_related("payment").get(pk=attempt_id)
    if attempt.status in FINAL:
        return attempt
    gateway = registry.get(attempt.payment.channel)
    executor = _executor(attempt)
    if executor == "staff":  # a bank transfer: processing until staff record it
        if attempt.status == RefundAttemptStatus.PROCESSING:
            return attempt
        return refund_attempt_record(attempt_id=attempt.pk, result=ProviderRefund(status="processing"), now=now)
    if executor == "wallet":
        with transaction.atomic():
            attempt = _lock_attempt(attempt_id)
            if attempt.status in FINAL:
                return attempt
            # The wallet credit, inside this transaction.
            result = _gift_card_credit(attempt) if attempt.credit_card_id else gateway.refund(attempt)
            audit = _apply(attempt, result, now=now)
            event_record(channel=attempt.payment.channel, kind=PaymentEventKind.REFUND, refund_attempt=attempt,
                         payment=attempt.payment, reference=attempt.out_refund_no,
                         payload={"status": result.status}, outcome=attempt.status)
            if audit:
                audit_record(**audit)
        return attempt
    try:
        if attempt.status == RefundAttemptStatus.PROCESSING and attempt.provider_refund_id:
            result, kind = gateway.query_refund(attempt), PaymentEventKind.REFUND_QUERY
            if result.status == "not_found":  # pragma: no cover - the provider lost it: send again
                result, kind = gateway.refund(attempt), PaymentEventKind.REFUND
        else:
            # Sending it again with the same out_refund_no is how we learn what became of a call
            # that timed out: the provider answers with the refund it already has.
            result, kind = gateway.refund(attempt), PaymentEventKind.REFUND
    except GatewayUnavailable as exc:
        logger.warning("refund %s: no answer from %s (%s)", attempt.out_refund_no, attempt.payment.channel, exc)
        result, kind = ProviderRefund(status="processing"), PaymentEventKind.REFUND
    except GatewayError as exc:
        if exc.code in DEFINITE_REFUSALS:
            result = ProviderRefund(status="failed", failure_reason=exc.message or exc.code)
        else:  # e.g. NOT_ENOUGH (merchant balance): nothing recorded there; try again later
            result = ProviderRefund(status="processing")
        kind = PaymentEventKind.REFUND
    with transaction.atomic():
        attempt = _lock_attempt(attempt_id)
        before = attempt.status
        if attempt.status not in FINAL:
            attempt.check_attempts += 1
        audit = _apply(attempt, result, now=now)
        event_record(channel=attempt.payment.channel, kind=kind, refund_attempt=attempt, payment=attempt.payment,
                     reference=attempt.out_refund_no,
                     payload={"status": result.status, "provider_refund_id": result.provider_refund_id,
                              "failure_reason": result.failure_reason},
                     outcome=f"{before}->{attempt.status}" if before != attempt.status else attempt.status)
        if audit:
            audit_record(**audit)
    return attempt


def refund_attempts_check_due(*, now=None, limit: int = CHECK_BATCH) -> int:
    """The periodic task: execute again every unfinished attempt whose next check is due."""
    now = now or timezone.now()
    due = list(
        RefundAttempt.objects.filter(status__in=(RefundAttemptStatus.CREATED, RefundAttemptStatus.PROCESSING),
                                     next_check_at__lte=now)
        .order_by("next_check_at")
        .values_list("pk", flat=True)[:limit]
    )
    for attempt_id in due:
        try:
            refund_attempt_execute(attempt_id=attempt_id, now=now)
        except Exception:  # one bad attempt must not stop the others; it is retried next run
            logger.exception("refund attempt %s could not be checked", attempt_id)
    return len(due)
