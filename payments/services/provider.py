"""What external providers say about our payments, recorded exactly once.

Three ways news about a payment arrives, all ending in ``payment_record_provider_state``:

- the provider's notification (``notification_receive``: signature verified, deduplicated on the
  provider's event id, and treated as a hint only: the payment is queried for the truth);
- our own query on a back-off schedule (``payments_check_due``), for every payment without a
  final answer, so a payment whose notification never came is still settled;
- staff confirming a bank transfer (corporate accounts).

Under the order row lock, then the payment row lock, the recorded state moves the payment through
its FSM; a payment that is already final is never moved again, so replays, duplicates and
out-of-order notifications change nothing. A timeout is never a failure: the payment stays (or
becomes) ``unknown`` and is asked about again.

Late and second payments (the rule): a success that arrives for an order that is no longer
waiting for it (cancelled or expired meanwhile, or already covered by another payment: two tabs,
two channels) is recorded as succeeded, because the money did move, and is refunded in full at
once through its own channel, audited as ``payment.refunded_automatically``. The order is never
revived: its stock may be gone and its customer has been told it was cancelled.

Amount mismatch (the rule): a provider that reports a success for an amount other than the
payment's (query or notification) never pays the order. The payment waiting for that answer ends
at once: it fails with failure code ``amount_mismatch`` (``AMOUNT_MISMATCH``; the message names
both amounts), it is audited as ``payment.amount_mismatch`` with reason ``amount_mismatch`` and the
provider's amount, it is never asked about again and it counts as neither paid nor in flight, so
the order is payable again (or expires as usual) and the customer is told why on the pay page.
The money the provider captured is not refunded automatically: a refund attempt sends back only
part of a payment that succeeded, at most its amount (``refunding.refund_attempt_create``), and
this payment neither succeeded nor has the captured amount. It is reconciliation that keeps it
from being lost: the provider's statement lists the capture, and the day's run
(``reconciliation.reconcile_day``) files it as an unexplained ``amount_differs`` mismatch with
both amounts, which stays open in the admin until staff have refunded it at the provider and
resolved it with a note. A later answer about the same payment (a replayed or duplicated
notification) changes nothing and is not audited again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from audit.services import audit_record_many
from config.api import DomainError
from ordering.models import Order, OrderStatus
from ordering.services import order_mark_paid

from ..gateways import GatewayError, GatewayUnavailable, Notification, ProviderPayment, registry
from ..models import (
    IN_FLIGHT,
    Payment,
    PaymentEvent,
    PaymentEventKind,
    PaymentStatus,
    RefundAttempt,
    RefundOrigin,
)
from ._common import _order_covered, _payment_event, _short_lock_wait, _user, event_record
from .refunding import refund_attempt_create, refund_attempt_execute

logger = logging.getLogger(__name__)

CHECK_BATCH = 100
AMOUNT_MISMATCH = "amount_mismatch"  # failure code (and outcome) of a payment captured for another amount
NOT_FOUND_GRACE = timedelta(seconds=30)  # a create may still be on its way to the provider


class PaymentBusy(DomainError):
    """The order or payment row stayed locked too long: the provider should try again."""

    code = "busy"
    status_code = 503


def _backoff(attempts: int) -> timedelta:
    schedule = settings.PAYMENT_CHECK_BACKOFF_SECONDS
    return timedelta(seconds=schedule[min(attempts, len(schedule) - 1)])


def _jsonable(state: ProviderPayment) -> dict:
    data = asdict(state)
    data["amount"] = None if state.amount is None else str(state.amount)
    data["paid_at"] = state.paid_at.isoformat() if state.paid_at else None
    return data


def _auto_refund(payment: Payment, *, origin: str, now) -> list[dict]:
    events: list[dict] = []
    attempt = refund_attempt_create(payment=payment, amount=payment.amount, origin=origin,
                                    out_refund_no=f"auto{payment.id.hex}", now=now,
                                    reason=str(RefundOrigin(origin).label), audit_events=events)
    return [*events, _payment_event(payment, "payment.refunded_automatically", actor=None,
                                    data={"origin": origin, "out_refund_no": attempt.out_refund_no})]


def _amount_mismatch(payment: Payment, state: ProviderPayment, *, actor, now) -> tuple[str, list[dict]]:
    """The provider captured another amount (see the module docstring): fail the payment for good."""
    data = {"provider_amount": str(state.amount), "our_amount": str(payment.amount),
            "provider_trade_no": state.provider_trade_no}
    if payment.status not in IN_FLIGHT:
        if payment.failure_code == AMOUNT_MISMATCH:  # told again (a replay, a duplicate): recorded already
            return AMOUNT_MISMATCH, []
        # Final already (e.g. succeeded for our amount, now reported otherwise): nothing to move, but
        # staff must see it (reconciliation files it too).
        return AMOUNT_MISMATCH, [_payment_event(payment, "payment.amount_mismatch", actor=actor, data=data,
                                                reason=AMOUNT_MISMATCH)]
    payment.provider_trade_no = state.provider_trade_no or payment.provider_trade_no
    payment.fail(code=AMOUNT_MISMATCH, at=now,
                 message=f"the provider captured {state.amount} CNY, the payment is for {payment.amount} CNY")
    payment.next_check_at = None
    payment.save()
    return AMOUNT_MISMATCH, [_payment_event(payment, "payment.amount_mismatch", actor=actor, data=data,
                                            amount=state.amount, reason=AMOUNT_MISMATCH)]


def _apply(order: Order, payment: Payment, state: ProviderPayment, *, actor, now) -> tuple[str, list[dict]]:
    """Move a locked payment to what the provider says. Returns (outcome, audit events)."""
    status = payment.status
    payment._history_user = _user(actor)
    if state.status == "succeeded":
        if state.amount is not None and state.amount != payment.amount:
            return _amount_mismatch(payment, state, actor=actor, now=now)
        if status not in IN_FLIGHT:
            return "already_final", []
        payment.succeed(provider_trade_no=state.provider_trade_no, payer_account=state.payer_account[-4:],
                        at=state.paid_at or now)
        payment.next_check_at = None
        payment.save()
        events = [_payment_event(payment, "payment.succeeded", actor=actor)]
        if order.status == OrderStatus.PENDING_PAYMENT:
            if _order_covered(order):
                events.append(order_mark_paid(order=order, actor=actor, at=now))
            return "succeeded", events
        origin = RefundOrigin.LATE if order.status == OrderStatus.CANCELLED else RefundOrigin.DUPLICATE
        events += _auto_refund(payment, origin=origin, now=now)
        return f"succeeded_{origin}", events
    if state.status == "closed":
        if status in (PaymentStatus.CREATED, PaymentStatus.PENDING):
            payment.cancel(at=now)
        elif status == PaymentStatus.UNKNOWN:
            payment.fail(code="closed", message="closed at the provider", at=now)
        else:
            return ("conflict" if status == PaymentStatus.SUCCEEDED else "already_final"), []
        payment.next_check_at = None
        payment.save()
        return "closed", [_payment_event(payment, f"payment.{payment.status}", actor=actor)]
    # pending or not_found: nothing to record beyond when to ask again
    if status in IN_FLIGHT:
        payment.check_attempts += 1
        payment.next_check_at = now + _backoff(payment.check_attempts)
        payment.save(update_fields=["check_attempts", "next_check_at"])
    return state.status, []


def payment_record_provider_state(
    *, payment_id, state: ProviderPayment, kind: str, actor=None, payload: dict | None = None,
    provider_event_id: str = "", event_type: str = "", ip: str | None = None, now=None,
) -> Payment:
    """Record once what the provider (or staff) says about a payment; see the module docstring.

    Raises ``PaymentBusy`` when the order row stays locked past the lock timeout, and
    ``IntegrityError`` when ``provider_event_id`` was recorded already (a replayed notification).
    """
    now = now or timezone.now()
    order_id = Payment.objects.values_list("order_id", flat=True).get(pk=payment_id)
    try:
        with transaction.atomic():
            _short_lock_wait()
            order = Order.objects.select_for_update().get(pk=order_id)
            payment = Payment.objects.select_for_update().select_related("order__store").get(pk=payment_id)
            before = payment.status
            outcome, events = _apply(order, payment, state, actor=actor, now=now)
            event_record(channel=payment.channel, kind=kind, payment=payment, reference=payment.out_trade_no,
                         payload=payload if payload is not None else _jsonable(state),
                         outcome=outcome if before == payment.status else f"{before}->{payment.status}",
                         detail=outcome, provider_event_id=provider_event_id, event_type=event_type, at=now)
            audit_record_many({**event, "ip": event.get("ip") or ip} for event in events)
    except OperationalError as exc:  # lock_timeout on PostgreSQL
        raise PaymentBusy(str(exc)[:200]) from exc
    return payment


def payment_sync(*, payment_id, now=None) -> Payment:
    """Ask the provider about one payment and record the answer. Closes a payment nobody paid
    in time (the order's time is up) so it can never be paid any more."""
    now = now or timezone.now()
    payment = Payment.objects.select_related("order").get(pk=payment_id)
    if payment.status not in IN_FLIGHT:
        return payment
    gateway = registry.get(payment.channel)
    try:
        state = gateway.query(payment)
        kind = PaymentEventKind.QUERY
        overdue = payment.pay_before is not None and payment.pay_before <= now
        if state.status == "pending" and (overdue or payment.order.status != OrderStatus.PENDING_PAYMENT):
            state, kind = gateway.close(payment), PaymentEventKind.CLOSE
        elif state.status == "not_found" and (payment.status == PaymentStatus.PENDING
                                              or payment.created_at + NOT_FOUND_GRACE <= now):
            # Never reached the provider (or too late to matter): close the number there so a
            # create still on its way can never be paid, then record it closed.
            state, kind = gateway.close(payment), PaymentEventKind.CLOSE
    except (GatewayUnavailable, GatewayError) as exc:
        logger.warning("payment %s: no answer from %s (%s)", payment.out_trade_no, payment.channel, exc)
        with transaction.atomic():
            payment = Payment.objects.select_for_update().get(pk=payment_id)
            if payment.status in IN_FLIGHT:
                payment.check_attempts += 1
                payment.next_check_at = now + _backoff(payment.check_attempts)
                payment.save(update_fields=["check_attempts", "next_check_at"])
            event_record(channel=payment.channel, kind=PaymentEventKind.QUERY, payment=payment,
                         reference=payment.out_trade_no, outcome="no_answer", detail=str(exc)[:255], at=now)
        return payment
    return payment_record_provider_state(payment_id=payment_id, state=state, kind=kind, now=now)


def payments_check_due(*, now=None, limit: int = CHECK_BATCH) -> int:
    """The periodic task: ask about every payment without a final answer whose check is due."""
    now = now or timezone.now()
    due = list(
        Payment.objects.filter(status__in=IN_FLIGHT, next_check_at__lte=now)
        .order_by("next_check_at")
        .values_list("pk", flat=True)[:limit]
    )
    for payment_id in due:
        try:
            payment_sync(payment_id=payment_id, now=now)
        except Exception:  # one payment must not stop the others; it is asked again next run
            logger.exception("payment %s could not be checked", payment_id)
    return len(due)


# --- Notifications ---


def _payment_for(reference: str) -> Payment | None:
    try:
        payment_id = uuid.UUID(hex=reference)
    except (TypeError, ValueError):
        return None
    return Payment.objects.filter(pk=payment_id).first()


def notification_receive(*, channel: str, request, now=None) -> str:
    """Handle one provider callback; returns what was done (for the log and the tests).

    Refuses a forged, stale or malformed one with ``NotificationInvalid`` (nothing stored). A
    replay of an event already handled changes nothing. An event about a payment we do not know
    is stored and acknowledged. Otherwise the provider is queried for the truth and the answer
    recorded; no answer from the provider leaves the payment due for an immediate check.
    """
    now = now or timezone.now()
    gateway = registry.get(channel)
    if not gateway.polled:
        from ..gateways import UnknownChannel

        raise UnknownChannel()
    note: Notification = gateway.parse_notification(request)
    if PaymentEvent.objects.filter(channel=channel, provider_event_id=note.event_id).exists():
        return "duplicate"
    if note.out_refund_no:
        return _refund_notification(channel, note, now=now)
    payment = _payment_for(note.out_trade_no)
    if payment is None or payment.channel != channel:
        try:
            with transaction.atomic():
                event_record(channel=channel, kind=PaymentEventKind.NOTIFICATION, reference=note.out_trade_no,
                             payload=note.payload, outcome="unknown_payment", provider_event_id=note.event_id,
                             event_type=note.event_type, at=now)
        except IntegrityError:
            return "duplicate"
        return "unknown_payment"
    try:
        state = gateway.query(payment)
    except (GatewayUnavailable, GatewayError) as exc:
        try:
            with transaction.atomic():
                event_record(channel=channel, kind=PaymentEventKind.NOTIFICATION, payment=payment,
                             reference=note.out_trade_no, payload=note.payload, outcome="query_failed",
                             detail=str(exc)[:255], provider_event_id=note.event_id, event_type=note.event_type,
                             at=now)
                Payment.objects.filter(pk=payment.pk, status__in=IN_FLIGHT).update(next_check_at=now)
        except IntegrityError:
            return "duplicate"
        return "check_scheduled"
    try:
        payment_record_provider_state(payment_id=payment.pk, state=state, kind=PaymentEventKind.NOTIFICATION,
                                      payload={"notification": note.payload, "query": _jsonable(state)},
                                      provider_event_id=note.event_id, event_type=note.event_type, now=now)
    except IntegrityError:
        return "duplicate"
    return "recorded"


def _refund_notification(channel: str, note: Notification, *, now) -> str:
    attempt = RefundAttempt.objects.filter(out_refund_no=note.out_refund_no, payment__channel=channel).first()
    try:
        with transaction.atomic():
            event_record(channel=channel, kind=PaymentEventKind.NOTIFICATION, refund_attempt=attempt,
                         payment=attempt.payment if attempt else None, reference=note.out_refund_no,
                         payload=note.payload, outcome="refund" if attempt else "unknown_refund",
                         provider_event_id=note.event_id, event_type=note.event_type, at=now)
    except IntegrityError:
        return "duplicate"
    if attempt is None:
        return "unknown_refund"
    # The body is a hint: ask the provider (refund_attempt_execute queries and records once).
    refund_attempt_execute(attempt_id=attempt.pk, now=now)
    return "recorded"
