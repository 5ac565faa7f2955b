"""Asking for a refund: the SMS code (second factor), then the request, decided at once.

Lock order (continuing ``ordering.services``): the order row, then the customer's account row
(so one customer's requests are counted one after another by the risk rules), then the order's
refund tally, then the request rows, then payment rows (execution), then the audit chain last.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, SmsPurpose
from accounts.services import sms_code_request, sms_code_verify, user_freeze
from audit.services import audit_record_many
from config.api import DomainError
from ordering.errors import OrderNotFound
from ordering.models import Order, OrderLine, OrderStatus
from ordering.services import order_lock
from stores.selectors import store_ids_visible_to

from ..errors import RefundBlocked, RefundForbidden, RefundInvalid, RefundNotAllowed
from ..models import HOLDING, RefundLine, RefundRequest, RefundSource
from ..policy import COLLECTED_REASONS, check_order_refundable, clean_line_asks, clean_reason, decide, policy_for, quote
from ..risk import assess, network_of
from ._common import _user, refund_event, save_new_refund, tally_lock, tally_move
from .approving import approval_effects, approval_notify

COUNTER_ROLES = (Role.HQ_MANAGER, Role.STORE_MANAGER, Role.KITCHEN_STAFF)
USER_AGENT_MAX = 300


def _order_for(actor, order_id, *, lock: bool = False) -> tuple[Order, str]:
    """The order the actor may ask a refund for, and where they ask: their own order (customer)
    or an online order of a store they work at (staff at the counter). Anything else is 404.
    ``lock``: the order row is locked (``order_lock``) for the caller's transaction."""
    user = _user(actor)
    if user is None:
        raise RefundForbidden(_("Log in to ask for a refund."), status_code=401, code="not_authenticated")
    try:
        if lock:
            order = order_lock(order_id=order_id, related=())  # the ids are enough here
        else:
            order = Order.objects.select_related("store", "customer").get(pk=order_id)
    except (Order.DoesNotExist, ValueError, TypeError, ValidationError):
        raise OrderNotFound() from None
    if user.is_staff and order.customer_id != user.pk:
        visible = store_ids_visible_to(user)
        if user.role not in COUNTER_ROLES and not user.is_superuser:
            raise OrderNotFound()
        if visible is not None and order.store_id not in visible:
            raise OrderNotFound()
        if order.customer_id is None:
            raise RefundNotAllowed(_("This order was placed at the kiosk without an account; refund it at the "
                                     "till."), code="no_customer")
        return order, RefundSource.COUNTER
    if order.customer_id != user.pk:
        raise OrderNotFound()
    return order, RefundSource.CUSTOMER


def _check_not_frozen(customer) -> None:
    if customer.is_frozen:
        raise RefundNotAllowed(
            _("This account is frozen (%(reason)s), so it cannot ask for refunds. Please contact support.")
            % {"reason": customer.frozen_reason or "-"},
            code="account_frozen", status_code=403,
        )


def refund_code_send(*, actor, order_id, ip: str | None = None) -> str:
    """Send the refund confirmation code to the order's customer (the customer asking online, or
    at the counter the customer who tells staff the code). Returns the masked phone it went to.
    The limits are those of login codes (one a minute, ten a day, five tries)."""
    order, _source = _order_for(actor, order_id)
    _check_not_frozen(order.customer)
    check_order_refundable(order, policy_for(order.brand_id), now=timezone.now())
    sms_code_request(phone=order.customer.phone, purpose=SmsPurpose.REFUND, ip=ip)
    return order.customer.masked_phone


def _held(order: Order, *, exclude_id=None) -> tuple[dict[int, int], bool]:
    """Portions per order line, and whether the delivery fee, held by the order's requests."""
    requests = RefundRequest.objects.filter(order=order, status__in=HOLDING)
    if exclude_id is not None:
        requests = requests.exclude(pk=exclude_id)
    portions = dict(
        RefundLine.objects.filter(refund__in=requests).values("order_line_id").annotate(q=Sum("quantity"))
        .values_list("order_line_id", "q")
    )
    return portions, requests.filter(delivery_fee__gt=0).exists()


def refund_request_create(
    *, actor, order_id, reason_code, code, lines=None, reason_text: str = "", ip: str | None = None,
    user_agent: str = "", now=None,
) -> RefundRequest:
    """Ask for a refund of a whole order (``lines`` empty) or of some portions of its lines.

    One transaction, under the order's lock and then the customer's account row (so one
    customer's requests are counted one after another by the risk rules). Checks, in order,
    with nothing written when one refuses: the actor may ask for this order (404 otherwise),
    the customer's account is not frozen (403), the reason and lines are well formed (400), the
    order is refundable now (409: not paid, refunded, too late), the portions are lines of the
    order and at most what was ordered (400), then the SMS code (400; a wrong code costs one of
    its tries, which is committed), then what other requests hold and the amount left (400 /
    409; the code is spent by then). Then the request is recorded with its lines, the policy
    it was decided by and every risk rule that fired, and decided: approved at once, sent to
    review with a deadline, or blocked (a risk rule froze the account: ``RefundBlocked`` is
    raised after the block is committed).
    """
    now = now or timezone.now()
    blocked, refusal = False, None
    with transaction.atomic():
        order, source = _order_for(actor, order_id, lock=True)
        customer = get_user_model().objects.select_for_update().get(pk=order.customer_id)
        _check_not_frozen(customer)
        reason_code, reason_text = clean_reason(reason_code, reason_text)
        asks = clean_line_asks(lines)
        policy = policy_for(order.brand_id)
        check_order_refundable(order, policy, now=now)
        if order.status == OrderStatus.COMPLETED and reason_code not in COLLECTED_REASONS:
            raise RefundInvalid(_("This order was collected: say what was wrong with it."), code="invalid_reason")
        order_lines = list(OrderLine.objects.filter(order=order).order_by("position"))
        # What is asked must be lines of this order, at most what was ordered, whatever the code.
        quote(order, order_lines, asks, held_portions={}, delivery_fee_held=False)
        try:
            # A refusal from here on is raised once this transaction commits: a wrong code's try
            # stays counted, and a right code stays used when what follows it is refused (that
            # part runs in a savepoint and rolls back to it).
            sms_code_verify(phone=customer.phone, code=code, purpose=SmsPurpose.REFUND)
            with transaction.atomic():
                refund, blocked = _record(
                    actor=actor, order=order, customer=customer, source=source, policy=policy,
                    order_lines=order_lines, asks=asks, reason_code=reason_code, reason_text=reason_text,
                    ip=ip, user_agent=user_agent, now=now,
                )
        except DomainError as exc:
            refusal = exc
    if refusal is not None:
        raise refusal
    if blocked:
        raise RefundBlocked(
            _("Too many refund requests: this account has been frozen and the request was not accepted. "
              "Please contact support."),
        )
    return refund


def _record(*, actor, order, customer, source, policy, order_lines, asks, reason_code, reason_text, ip, user_agent,
            now) -> tuple[RefundRequest, bool]:
    """The request, written and decided under the order's and the customer's locks; returns it
    and whether a risk rule blocked it."""
    tally = tally_lock(order, now=now)
    held, fee_held = ({}, False) if tally.is_new else _held(order)  # new: nothing held yet
    quoted = quote(order, order_lines, asks, held_portions=held, delivery_fee_held=fee_held)
    amount = quoted.amount
    left = tally.paid - tally.committed
    if amount > left:
        raise RefundNotAllowed(
            _("At most %(left)s CNY of this order can still be refunded.") % {"left": max(left, 0)},
            code="exceeds_refundable",
        )
    risk = assess(policy=policy, customer=customer, amount=amount, ip=ip, now=now)
    refund = RefundRequest(
        brand_id=order.brand_id, store_id=order.store_id, order=order, customer=customer,
        requested_by=_user(actor), source=source, amount=amount, delivery_fee=quoted.delivery_fee,
        is_full=quoted.is_full, order_status=order.status, reason_code=reason_code, reason_text=reason_text,
        ip=ip or None, network=network_of(ip), user_agent=(user_agent or "")[:USER_AGENT_MAX],
        policy=policy.snapshot(), risk_flags=risk.flags, created_at=now,
    )
    asked = copy.copy(refund)  # for its history row (see save_new_refund)
    refund_lines = [
        RefundLine(refund=refund, order_line=q.line, quantity=q.quantity, unit_price=q.line.unit_price,
                   amount=q.amount)
        for q in quoted.lines
    ]
    events = [refund_event(refund, "refund.requested", actor=actor, ip=ip, reason=reason_text or reason_code,
                           data={"reason_code": reason_code, "policy_version": policy.version,
                                 "lines": {str(q.line.pk): q.quantity for q in quoted.lines},
                                 "delivery_fee": str(quoted.delivery_fee)})]
    events += [refund_event(refund, "refund.risk_flagged", actor=None, ip=ip, reason=flag["rule"], data=flag)
               for flag in risk.flags]
    if risk.freeze:
        freeze_events: list[dict] = []
        user_freeze(user=customer, reason=_("Refund risk rule: %(rules)s") % {"rules": risk.freeze_reason},
                    actor=None, ip=ip, audit_events=freeze_events, brand_id=order.brand_id,
                    data={"refund": str(refund.pk), "rules": risk.freeze_reason})
        events += freeze_events
    if risk.block:
        refund.block(why=f"blocked: {risk.freeze_reason}", at=now)
        events.append(refund_event(refund, "refund.blocked", actor=None, ip=ip, reason=risk.freeze_reason))
    else:
        tally_move(tally, amount, now=now)
        decision = decide(policy=policy, order=order, amount=amount, risk_flags=risk.flags)
        if decision.auto:
            refund.auto_approve(at=now)
            events += approval_effects(order, refund, actor=None, now=now, lines=refund_lines,
                                       order_lines=order_lines, others_paying={} if tally.is_new else None)
            events.append(refund_event(refund, "refund.auto_approved", actor=None, ip=ip,
                                       data={"limit": str(policy.auto_approve_limit)}))
            approval_notify(refund)
        else:
            refund.send_to_review(deadline=now + timedelta(minutes=policy.review_minutes), why=decision.summary)
            events.append(refund_event(refund, "refund.sent_to_review", actor=None, ip=ip, reason=decision.summary,
                                       data={"deadline": refund.review_deadline.isoformat()}))
    save_new_refund(refund, asked=asked, actor=actor)
    RefundLine.objects.bulk_create(refund_lines)
    audit_record_many(events)
    return refund, risk.block
