"""Paying an order.

Paying (``payment_create``) follows the lock order of ``ordering.services``: the order row first
(``order_lock``), then the payment, then the wallet row, then the audit chain last. Under the
order lock it re-checks that the order still awaits payment and has not expired, and that the new
payment does not take more than is left to pay, so an expired, cancelled or already paid order
never moves money, and paying more than the total is refused before any money moves. When the
succeeded payments cover the total, ``ordering.services.order_mark_paid`` moves the order to paid
and issues its pickup code, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from audit.services import audit_record, audit_record_many
from ordering.errors import OrderNotFound
from ordering.models import OrderStatus
from ordering.services import order_lock, order_mark_paid
from stores.selectors import store_ids_visible_to

from ..errors import PaymentNotAllowed
from ..gateways import GatewayError, GatewayUnavailable, PaymentAction, registry
from ..models import Payment, PaymentEventKind, PaymentStatus
from ..selectors import order_amount_due
from ._common import _clean_amount, _order_covered, _payment_event, _user, event_record
from .provider import _backoff


@dataclass(frozen=True)
class PaymentResult:
    payment: Payment
    action: PaymentAction
    order_paid: bool


def payment_create(
    *, actor, order_id, channel: str, params: dict | None = None, amount=None, ip: str | None = None, now=None
) -> PaymentResult:
    """Pay (part of) an order with ``channel``. Wallet channels settle at once.

    ``amount`` defaults to what is left to pay; more than that is refused (``PaymentNotAllowed``)
    before any money moves. The customer pays their own orders; store staff record counter
    payments for their stores. Refusals (``PaymentNotAllowed``, ``InsufficientBalance``,
    ``GiftCardInvalid``, ``UnknownChannel``) leave nothing written.
    """
    params = params or {}
    gateway = registry.get(channel)
    user = _user(actor)
    now = now or timezone.now()
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        if gateway.staff_only:
            visible = store_ids_visible_to(user) if user is not None else set()
            if user is None or not user.is_staff or (visible is not None and order.store_id not in visible):
                raise PaymentNotAllowed(_("Only staff of this store can record a counter payment."),
                                        status_code=403, code="not_yours")
        elif order.customer_id is not None and (user is None or order.customer_id != user.pk):
            raise OrderNotFound()
        if getattr(user, "is_frozen", False):
            raise PaymentNotAllowed(_("Your account is frozen, so it cannot pay."), status_code=403,
                                    code="account_frozen")
        if order.status == OrderStatus.CANCELLED:
            raise PaymentNotAllowed(_("This order was cancelled; nothing was charged."), code="order_cancelled")
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise PaymentNotAllowed(_("This order is already paid; nothing was charged."), code="already_paid")
        if order.expires_at <= now:
            raise PaymentNotAllowed(
                _("This order expired at %(time)s; nothing was charged. Please order again.")
                % {"time": date_format(timezone.localtime(order.expires_at), "H:i")},
                code="order_expired",
            )
        if not gateway.enabled_at(order.store) or not gateway.available(order=order, user=user):
            raise PaymentNotAllowed(_("This payment channel is not available for this order."))
        due = order_amount_due(order)
        if due <= 0:
            raise PaymentNotAllowed(_("Nothing is left to pay on this order."), code="already_paid")
        to_pay = due if amount in (None, "") else _clean_amount(amount)
        if to_pay > due:
            raise PaymentNotAllowed(
                _("Only %(due)s CNY is left to pay; paying more is refused.") % {"due": due},
                code="over_total",
            )
        if to_pay < due and not gateway.partial:
            # A part payment would leave money taken on an order that may then expire, and
            # expiry gives stock back but not money: until split payment settles both parts in
            # one checkout (the canteen subsidy issue), a payment covers what is left.
            raise PaymentNotAllowed(
                _("Pay the whole %(due)s CNY left on this order; paying part of it is not possible yet.")
                % {"due": due},
                code="partial_not_allowed",
            )
        payment = Payment(brand_id=order.brand_id, order=order, channel=channel, amount=to_pay, created_by=user,
                          created_at=now)
        payment._history_user = user
        if gateway.wallet:
            payment.save(force_insert=True)
            gateway.settle(payment=payment, params=params, actor=user)
            payment.save()
            events = [_payment_event(payment, "payment.succeeded", actor=user, ip=ip)]
            paid = False
            if payment.status == PaymentStatus.SUCCEEDED and _order_covered(order):
                events.append(order_mark_paid(order=order, actor=user, at=now))
                paid = True
            audit_record_many(events)
            return PaymentResult(payment=payment, action=PaymentAction(), order_paid=paid)
        reused = _open_attempt(order, channel=channel, amount=to_pay, user=user)
        if reused is not None:  # a double click, or the customer coming back to the same payment
            return PaymentResult(payment=reused, action=_stored_action(reused), order_paid=False)
        # Opened at the provider after commit, never inside a transaction. Should that never
        # happen (the process dies first), the periodic check finds the payment and settles it.
        payment.pay_before = gateway.pay_before(payment, order=order, now=now)
        payment.next_check_at = now + _backoff(0)
        payment.save(force_insert=True)
        audit_record(**_payment_event(payment, "payment.created", actor=user, ip=ip))
    if _inside_callers_transaction():
        # Called inside somebody's transaction: open it at the provider once that commits.
        transaction.on_commit(lambda: payment_start(payment_id=payment.pk))
        return PaymentResult(payment=payment, action=PaymentAction(), order_paid=False)
    action = payment_start(payment_id=payment.pk, now=now)
    payment.refresh_from_db()
    return PaymentResult(payment=payment, action=action, order_paid=False)


def _inside_callers_transaction() -> bool:
    """Whether the caller holds a transaction open (the test case's own wrapper does not count):
    the provider must not be called inside it."""
    blocks = transaction.get_connection().atomic_blocks
    return any(not getattr(block, "_from_testcase", False) for block in blocks)


def _open_attempt(order, *, channel: str, amount, user) -> Payment | None:
    """The customer's payment of this order on this channel still waiting for the payer, if it
    is for the same amount: paying again reuses it rather than opening a second one."""
    return (
        order.payments.filter(channel=channel, amount=amount, status=PaymentStatus.PENDING, created_by=user)
        .exclude(action_url="", qr_content="")
        .order_by("-created_at")
        .first()
    )


def _stored_action(payment: Payment) -> PaymentAction:
    gateway = registry.get(payment.channel)
    return gateway.action_for(payment)


def payment_start(*, payment_id, now=None) -> PaymentAction:
    """Open an external payment at its provider and record what the payer does next.

    No answer (timeout, 5xx) makes the payment ``unknown``: the provider may have it, so it is
    queried on the back-off schedule and never counted as failed. A definite refusal fails it.
    Safe to call again: only a payment still ``created`` is opened.
    """
    now = now or timezone.now()
    payment = Payment.objects.get(pk=payment_id)
    gateway = registry.get(payment.channel)
    if payment.status != PaymentStatus.CREATED:
        return gateway.action_for(payment)
    action, failure, outcome = PaymentAction(), None, "started"
    try:
        action = gateway.start(payment)
    except GatewayUnavailable as exc:
        failure, outcome = exc, "no_answer"
    except GatewayError as exc:
        failure, outcome = exc, "refused"
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.CREATED:  # settled meanwhile by a check
            return gateway.action_for(payment)
        payment._history_user = None
        if outcome == "started":
            payment.start(action_url=action.url, qr_content=action.qr_content or action.reference)
            payment.next_check_at = now + _backoff(0) if gateway.polled else payment.pay_before
            action_name = "payment.started"
        elif outcome == "no_answer":
            payment.mark_unknown()
            payment.next_check_at = now + _backoff(0)
            action_name = "payment.unknown"
        else:
            payment.fail(code=getattr(failure, "code", "refused")[:40], message=getattr(failure, "message", ""),
                         at=now)
            payment.next_check_at = None
            action_name = "payment.failed"
        payment.save()
        event_record(channel=payment.channel, kind=PaymentEventKind.START, payment=payment,
                     reference=payment.out_trade_no, outcome=outcome, detail=str(failure or "")[:255],
                     payload={"kind": action.kind, "url": action.url}, at=now)
        audit_record(**_payment_event(payment, action_name, actor=None,
                                      reason=str(failure or "")[:200]))
    return action




def payment_split_create(
    *, actor, order_id, first_channel: str, first_amount, channel: str, params: dict | None = None,
    first_params: dict | None = None, ip: str | None = None, now=None,
) -> list[PaymentResult]:
    """Split payment in one checkout: ``first_channel`` (a partial channel: the canteen subsidy)
    pays ``first_amount``, ``channel`` the rest.

    When the rest is a wallet too (gift card), both settle in one transaction: both or neither,
    so a refused gift card leaves the subsidy untouched. When the rest goes to an external
    provider, the first part is taken and the provider's payment opened after commit; should it
    never succeed, the order's expiry gives the first part back (``give_back_ended_order``).
    """
    rest = registry.get(channel)
    if not registry.get(first_channel).partial:
        raise PaymentNotAllowed(_("This payment channel cannot pay part of an order."), code="partial_not_allowed")
    if rest.wallet:
        with transaction.atomic():
            first = payment_create(actor=actor, order_id=order_id, channel=first_channel, params=first_params,
                                   amount=first_amount, ip=ip, now=now)
            if first.order_paid:
                return [first]
            return [first, payment_create(actor=actor, order_id=order_id, channel=channel, params=params, ip=ip,
                                          now=now)]
    first = payment_create(actor=actor, order_id=order_id, channel=first_channel, params=first_params,
                           amount=first_amount, ip=ip, now=now)
    if first.order_paid:
        return [first]
    return [first, payment_create(actor=actor, order_id=order_id, channel=channel, params=params, ip=ip, now=now)]


def give_back_ended_order(*, order, now=None, audit_events: list) -> list:
    """An order awaiting payment ended (cancelled, expired) holding payments that succeeded (the
    paid part of a split payment): each is refunded in full through its own channel, in the
    transaction that ends the order (``ordering.signals.order_ended``; the order row is locked).
    The out_refund_no is derived from the payment, so it can never be sent twice."""
    from ..models import RefundOrigin
    from .refunding import refund_attempt_create, refundable_from

    attempts = []
    for payment in order.payments.filter(status=PaymentStatus.SUCCEEDED).order_by("created_at"):
        left = refundable_from(payment)
        if left <= 0:
            continue
        attempts.append(refund_attempt_create(
            payment=payment, amount=left, origin=RefundOrigin.ORDER_ENDED, out_refund_no=f"end{payment.id.hex}",
            reason=str(RefundOrigin.ORDER_ENDED.label), now=now, audit_events=audit_events,
        ))
    return attempts
