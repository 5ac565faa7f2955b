"""Paying an approved refund out, exactly once, and what happens when a channel fails.

- ``refund_submit`` (a task, after the approval commits): under the order's lock, shares the
  amount out over the order's payments (``refunds.allocation``) and records one refund attempt
  per share with the payments app, each with an ``out_refund_no`` derived from the request and the
  share's number (``rr<request id><nn>``). The payments app sends it after commit and reuses that
  number on every retry, so a provider never refunds it twice; gift card and subsidy shares are
  credited at once. Running it again does nothing (the request is no longer approved).
- ``refund_sync`` (after each attempt finishes, and from the periodic sweep): succeeded when every
  live share succeeded; failed when a share failed and none is still under way. A timeout is never
  a failure: the attempt stays processing and the payments app asks again.
- ``refund_change_destination`` (the customer, after a failure): the failed shares go again, to a
  gift card of theirs (credited at once) or by bank transfer to an account they give (HQ records
  the transfer); ``refund_retry`` (staff) sends them again through the original channel. A new
  share replaces the failed one; the money still counts against the same payment.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record, audit_record_many
from ordering.services import order_lock
from payments.models import Payment, RefundAttemptStatus, RefundDestination, RefundOrigin
from payments.services import BankAccount, gift_card_for_refund, refund_attempt_create

from ..allocation import allocate
from ..errors import RefundForbidden, RefundInvalid, RefundNotAllowed, RefundNotFound
from ..models import RefundAllocation, RefundRequest, RefundSource, RefundStatus
from ._common import _user, notify_customer, order_id_of, refund_event, refund_lock, save_refund
from .approving import may_review

logger = logging.getLogger(__name__)

IN_FLIGHT = (RefundAttemptStatus.CREATED, RefundAttemptStatus.PROCESSING)
SWEEP_BATCH = 200
SUBMIT_GRACE = timedelta(minutes=1)  # an approved request not sent by then is sent by the sweep
CUSTOMER_DESTINATIONS = (RefundDestination.GIFT_CARD, RefundDestination.BANK_TRANSFER)
_ACCOUNT_RE = re.compile(r"^\d{8,30}$")


def _out_refund_no(refund: RefundRequest, seq: int) -> str:
    return f"rr{refund.id.hex}{seq:02d}"


def _live(refund: RefundRequest) -> list[RefundAllocation]:
    return list(
        RefundAllocation.objects.filter(refund=refund, replaced_by__isnull=True)
        .select_related("attempt", "payment").order_by("created_at", "pk")
    )


def _share(refund, *, payment, amount, seq, events, now, destination=RefundDestination.ORIGINAL, credit_card=None,
           bank=None, replaces=None, actor=None) -> RefundAllocation:
    origin = RefundOrigin.STAFF if refund.source == RefundSource.COUNTER else RefundOrigin.CUSTOMER
    attempt = refund_attempt_create(
        payment=payment, amount=amount, origin=origin, reason=f"{refund.display_number} {refund.reason_code}",
        actor=actor, out_refund_no=_out_refund_no(refund, seq), now=now, audit_events=events,
        destination=destination, credit_card=credit_card, bank=bank,
    )
    return RefundAllocation.objects.create(refund=refund, payment=payment, amount=amount, attempt=attempt,
                                           replaces=replaces, created_at=now)


def refund_submit(*, refund_id, now=None) -> RefundRequest:
    """Send an approved request to its payment channels (see the module docstring)."""
    now = now or timezone.now()
    with transaction.atomic():
        order = order_lock(order_id=order_id_of(refund_id))
        refund = refund_lock(refund_id)
        if refund.status != RefundStatus.APPROVED:
            return refund
        payments = list(Payment.objects.select_for_update().filter(order=order).order_by("pk"))
        shares = allocate(payments, refund.amount)
        events: list[dict] = []
        allocations = [
            _share(refund, payment=share.payment, amount=share.amount, seq=seq, events=events, now=now)
            for seq, share in enumerate(shares, start=1)
        ]
        refund.submit(at=now)
        save_refund(refund, None)
        events.append(refund_event(refund, "refund.submitted", actor=None, data={
            "shares": [{"payment": str(a.payment_id), "channel": a.payment.channel, "amount": str(a.amount),
                        "out_refund_no": a.attempt.out_refund_no} for a in allocations]}))
        audit_record_many(events)
    return refund


def refund_sync(*, refund_id, now=None) -> RefundRequest:
    """Bring a request in progress up to date with its shares' attempts (safe to run any time)."""
    now = now or timezone.now()
    with transaction.atomic():
        refund = refund_lock(refund_id)
        if refund.status != RefundStatus.PROCESSING:
            return refund
        live = _live(refund)
        statuses = [allocation.attempt.status for allocation in live]
        if live and all(status == RefundAttemptStatus.SUCCEEDED for status in statuses):
            refund.succeed(at=now)
            save_refund(refund, None)
            notify_customer(refund, "succeeded")
            audit_record(**refund_event(refund, "refund.succeeded", actor=None, data={
                "out_refund_nos": [a.attempt.out_refund_no for a in live]}))
        elif RefundAttemptStatus.FAILED in statuses and not any(s in IN_FLIGHT for s in statuses):
            failed = next(a for a in live if a.attempt.status == RefundAttemptStatus.FAILED)
            refund.fail(reason=failed.attempt.failure_reason or _("refused by the payment channel"), at=now)
            save_refund(refund, None)
            notify_customer(refund, "failed")
            audit_record(**refund_event(refund, "refund.failed", actor=None, reason=refund.failure_reason, data={
                "failed": [a.attempt.out_refund_no for a in live if a.attempt.status == RefundAttemptStatus.FAILED]}))
    return refund


def clean_bank_account(*, bank_name, account_name, account_number) -> BankAccount:
    bank_name, account_name = str(bank_name or "").strip(), str(account_name or "").strip()
    number = re.sub(r"[\s-]", "", str(account_number or ""))
    errors = {}
    if not 2 <= len(bank_name) <= 60 or "\x00" in bank_name:
        errors["bank_name"] = _("Give the bank and branch (2 to 60 characters).")
    if not 1 <= len(account_name) <= 60 or "\x00" in account_name:
        errors["account_name"] = _("Give the account holder's name as the bank has it.")
    if not _ACCOUNT_RE.match(number):
        errors["account_number"] = _("An account number is 8 to 30 digits.")
    if errors:
        raise RefundInvalid(next(iter(errors.values())), code="invalid_bank_account")
    return BankAccount(bank_name=bank_name, account_name=account_name, account_number=number)


def _resend(refund: RefundRequest, *, actor, destination: str, bank: BankAccount | None, now, events) -> list:
    failed = [a for a in _live(refund) if a.attempt.status == RefundAttemptStatus.FAILED]
    seq = RefundAllocation.objects.filter(refund=refund).count()
    card = (gift_card_for_refund(brand_id=refund.brand_id, owner=refund.customer)
            if destination == RefundDestination.GIFT_CARD else None)
    new = []
    for allocation in failed:
        seq += 1
        new.append(_share(refund, payment=allocation.payment, amount=allocation.amount, seq=seq, events=events,
                          now=now, destination=destination, credit_card=card, bank=bank, replaces=allocation,
                          actor=actor))
    return new


def refund_change_destination(*, actor, refund_id, destination: str, bank_name: str = "", account_name: str = "",
                              account_number: str = "", ip: str | None = None, now=None) -> RefundRequest:
    """After a failure, send the failed part of a refund to another destination: ``gift_card``
    (credit on a gift card of the customer's, at once) or ``bank_transfer`` (to the account
    given; staff make the transfer). The customer, or staff of the store, may do this."""
    now = now or timezone.now()
    if destination not in CUSTOMER_DESTINATIONS:
        raise RefundInvalid(_("Choose gift card credit or a bank transfer."), code="invalid_destination")
    bank = (clean_bank_account(bank_name=bank_name, account_name=account_name, account_number=account_number)
            if destination == RefundDestination.BANK_TRANSFER else None)
    user = _user(actor)
    with transaction.atomic():
        order_lock(order_id=order_id_of(refund_id))
        refund = refund_lock(refund_id)
        if user is None or (refund.customer_id != user.pk and not may_review(user, refund)):
            raise RefundNotFound()
        if refund.status != RefundStatus.FAILED:
            raise RefundNotAllowed(
                _("Only a refund that failed can be sent elsewhere; this one is %(status)s.")
                % {"status": refund.get_status_display()},
                code="not_failed",
            )
        events: list[dict] = []
        new = _resend(refund, actor=user, destination=destination, bank=bank, now=now, events=events)
        refund.redirect(at=now)
        save_refund(refund, user)
        events.append(refund_event(refund, "refund.destination_changed", actor=user, ip=ip, data={
            "destination": destination, "out_refund_nos": [a.attempt.out_refund_no for a in new],
            **({"bank_account": f"•••• {bank.account_number[-4:]}", "bank": bank.bank_name} if bank else {}),
            **({"gift_card": new[0].attempt.credit_card.masked_code} if new and new[0].attempt.credit_card_id else {}),
        }))
        audit_record_many(events)
    return refund


def refund_retry(*, actor, refund_id, ip: str | None = None, now=None) -> RefundRequest:
    """Staff send the failed part of a refund again through the original channel (for a failure
    that has passed, such as the provider's account limits)."""
    now = now or timezone.now()
    with transaction.atomic():
        order_lock(order_id=order_id_of(refund_id))
        refund = refund_lock(refund_id)
        if not may_review(actor, refund):
            raise RefundForbidden(_("You may not retry refunds of this store."))
        if refund.status != RefundStatus.FAILED:
            raise RefundNotAllowed(
                _("Only a refund that failed can be retried; this one is %(status)s.")
                % {"status": refund.get_status_display()},
                code="not_failed",
            )
        events: list[dict] = []
        new = _resend(refund, actor=actor, destination=RefundDestination.ORIGINAL, bank=None, now=now, events=events)
        refund.redirect(at=now)
        save_refund(refund, actor)
        events.append(refund_event(refund, "refund.retried", actor=actor, ip=ip, data={
            "out_refund_nos": [a.attempt.out_refund_no for a in new]}))
        audit_record_many(events)
    return refund


def refunds_sweep(*, now=None, limit: int = SWEEP_BATCH) -> int:
    """The periodic task: send approved requests whose task never ran, and bring requests in
    progress up to date (should an attempt's "finished" signal have been lost with its process)."""
    now = now or timezone.now()
    approved = list(RefundRequest.objects.filter(status=RefundStatus.APPROVED, approved_at__lte=now - SUBMIT_GRACE)
                    .order_by("approved_at").values_list("pk", flat=True)[:limit])
    processing = list(RefundRequest.objects.filter(status=RefundStatus.PROCESSING)
                      .order_by("submitted_at").values_list("pk", flat=True)[:limit])
    done = 0
    for refund_id in approved:
        try:
            refund_submit(refund_id=refund_id, now=now)
            done += 1
        except Exception:  # one request must not stop the others; it is tried again next run
            logger.exception("refund %s could not be submitted", refund_id)
    for refund_id in processing:
        try:
            refund_sync(refund_id=refund_id, now=now)
            done += 1
        except Exception:
            logger.exception("refund %s could not be synced", refund_id)
    return done
