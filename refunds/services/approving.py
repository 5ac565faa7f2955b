"""Reviewing refund requests: approve, reject, withdraw, and escalation of overdue reviews.

Every service here locks the order row first, then the request (``ordering.services`` lock
order), re-checks the request's status under the lock and writes its audit events last. Two
reviewers approving the same request at once: the second waits for the first's order lock, then
finds the request approved and is refused (``already_reviewed``); the refund executes once.
The approver is never the requester, nor the customer (also a database constraint).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.tasks import sms_send_task
from audit.services import audit_record, audit_record_many
from ordering.models import Order, OrderLine
from ordering.services import order_lock, order_refund_apply
from stores.models import StaffAssignment
from stores.selectors import store_ids_visible_to

from ..errors import RefundForbidden, RefundInvalid, RefundNotAllowed, RefundNotFound
from ..models import RefundLine, RefundRequest, RefundStatus
from ._common import _user, notify_customer, order_id_of, refund_event, refund_lock, save_refund, tally_lock, tally_move

NOTE_MAX = 500
# Requests that will pay out: an order is refunded in full once these cover all of it.
PAYING = (RefundStatus.APPROVED, RefundStatus.PROCESSING, RefundStatus.SUCCEEDED, RefundStatus.FAILED)
ESCALATION_BATCH = 200


def approval_effects(order: Order, refund: RefundRequest, *, actor, now, lines=None, order_lines=None,
                     others_paying=None) -> list[dict]:
    """What approving ``refund`` does to its (locked) order: portions back to stock when the
    kitchen has not started, and the order refunded when nothing of it is left. Call after the
    request's transition, before saving it (``stock_released`` is kept on it). Returns events.

    A caller that has them at hand passes the request's ``lines`` (with their order lines), the
    order's ``order_lines`` and what the order's other paying requests hold per order line
    (``others_paying``, ``{}`` for an order that had no request before); else they are read."""
    if lines is None:
        lines = list(RefundLine.objects.filter(refund=refund).select_related("order_line"))
    quantities: dict[int, int] = {}
    for line in lines:
        if line.order_line.dish_id is not None:
            dish = line.order_line.dish_id
            quantities[dish] = quantities.get(dish, 0) + line.quantity
    if others_paying is None:
        others_paying = (
            RefundLine.objects.filter(refund__order=order, refund__status__in=PAYING).exclude(refund=refund)
            .values("order_line_id").annotate(q=Sum("quantity")).values_list("order_line_id", "q")
        )
    paying = dict(others_paying)
    for line in lines:
        paying[line.order_line_id] = paying.get(line.order_line_id, 0) + line.quantity
    if order_lines is None:
        ordered = OrderLine.objects.filter(order=order).values_list("pk", "quantity")
    else:
        ordered = [(line.pk, line.quantity) for line in order_lines]
    full = all(paying.get(pk, 0) >= qty for pk, qty in ordered)
    released, events = order_refund_apply(order=order, quantities=quantities, full=full, actor=actor, now=now)
    refund.stock_released = {str(k): v for k, v in released.items()}
    return events


def approval_notify(refund: RefundRequest) -> None:
    """After commit: send the refund on its way, and tell the customer."""
    from ..tasks import refund_submit_task

    refund_id = str(refund.pk)
    transaction.on_commit(lambda: refund_submit_task.delay(refund_id=refund_id))
    notify_customer(refund, "approved")


def _clean_note(note, *, required: bool) -> str:
    note = str(note or "").strip()
    if "\x00" in note:
        raise RefundInvalid(_("The note contains characters that are not allowed."), code="invalid_note")
    if len(note) > NOTE_MAX:
        raise RefundInvalid(_("Keep the note to %(max)d characters.") % {"max": NOTE_MAX}, code="invalid_note")
    if required and not note:
        raise RefundInvalid(_("Say why the refund is rejected; the customer is told."), code="note_required")
    return note


def may_review(user, refund: RefundRequest) -> bool:
    """HQ managers review their brand's requests, store managers their stores' (superusers all)."""
    user = _user(user)
    if user is None or not user.is_active or getattr(user, "is_frozen", False):
        return False
    if not (user.is_superuser or user.has_perm("refunds.review_refundrequest")):
        return False
    visible = store_ids_visible_to(user)
    return visible is None or refund.store_id in visible


def _check_reviewer(actor, refund: RefundRequest) -> None:
    if not may_review(actor, refund):
        raise RefundForbidden(_("You may not review refund requests of this store."))
    if actor.pk in (refund.requested_by_id, refund.customer_id):
        raise RefundForbidden(_("A refund is approved by somebody other than who asked for it."),
                              code="own_request")


def _check_pending(refund: RefundRequest) -> None:
    if refund.status != RefundStatus.PENDING_REVIEW:
        raise RefundNotAllowed(
            _("This request is no longer waiting for review: it is %(status)s.")
            % {"status": refund.get_status_display()},
            code="already_reviewed",
        )


def refund_approve(*, actor, refund_id, note: str = "", ip: str | None = None, now=None) -> RefundRequest:
    """Approve a request in review; it is then sent to the payment channels after commit."""
    note = _clean_note(note, required=False)
    now = now or timezone.now()
    with transaction.atomic():
        order = order_lock(order_id=order_id_of(refund_id))
        refund = refund_lock(refund_id)
        _check_reviewer(actor, refund)
        _check_pending(refund)
        refund.approve(reviewer=actor, note=note, at=now)
        events = approval_effects(order, refund, actor=actor, now=now)
        save_refund(refund, actor)
        overdue = refund.review_deadline is not None and refund.review_deadline < now
        events.append(refund_event(refund, "refund.approved", actor=actor, ip=ip, reason=note,
                                   data={"overdue": overdue}))
        approval_notify(refund)
        audit_record_many(events)
    return refund


def refund_reject(*, actor, refund_id, note: str, ip: str | None = None, now=None) -> RefundRequest:
    """Reject a request in review with a note the customer is told; its money is released."""
    note = _clean_note(note, required=True)
    now = now or timezone.now()
    with transaction.atomic():
        order = order_lock(order_id=order_id_of(refund_id))
        refund = refund_lock(refund_id)
        _check_reviewer(actor, refund)
        _check_pending(refund)
        tally = tally_lock(order, now=now)
        refund.reject(reviewer=actor, note=note, at=now)
        save_refund(refund, actor)
        tally_move(tally, -refund.amount, now=now)
        notify_customer(refund, "rejected")
        audit_record(**refund_event(refund, "refund.rejected", actor=actor, ip=ip, reason=note))
    return refund


def refund_withdraw(*, actor, refund_id, ip: str | None = None, now=None) -> RefundRequest:
    """The customer takes back a request still waiting for review; its money is released."""
    now = now or timezone.now()
    user = _user(actor)
    with transaction.atomic():
        order = order_lock(order_id=order_id_of(refund_id))
        refund = refund_lock(refund_id)
        if user is None or refund.customer_id != user.pk:
            raise RefundNotFound()
        if refund.status != RefundStatus.PENDING_REVIEW:
            raise RefundNotAllowed(
                _("Only a request waiting for review can be withdrawn; this one is %(status)s.")
                % {"status": refund.get_status_display()},
                code="not_withdrawable",
            )
        tally = tally_lock(order, now=now)
        refund.withdraw(at=now)
        save_refund(refund, actor)
        tally_move(tally, -refund.amount, now=now)
        audit_record(**refund_event(refund, "refund.withdrawn", actor=actor, ip=ip))
    return refund


def _hq_phones(brand_id: int) -> list[str]:
    users = get_user_model().objects.filter(
        role=Role.HQ_MANAGER, is_active=True, is_frozen=False,
        pk__in=StaffAssignment.objects.filter(brand_id=brand_id).values("user_id"),
    )
    return list(users.values_list("phone", flat=True))


def refund_escalate(*, refund_id, now=None) -> bool:
    """Flag one overdue review as escalated and tell the brand's HQ managers (once)."""
    now = now or timezone.now()
    with transaction.atomic():
        order_lock(order_id=order_id_of(refund_id))
        refund = refund_lock(refund_id)
        if (refund.status != RefundStatus.PENDING_REVIEW or refund.escalated_at is not None
                or refund.review_deadline is None or refund.review_deadline > now):
            return False
        refund.escalated_at = now
        save_refund(refund, None)
        phones = _hq_phones(refund.brand_id)
        with translation.override(settings.LANGUAGE_CODE):
            text = _("Refund %(number)s (%(amount)s CNY, %(store)s) is waiting for review past its deadline.") % {
                "number": refund.display_number, "amount": refund.amount, "store": refund.order.store.code}
        for phone in phones:
            transaction.on_commit(lambda p=phone: sms_send_task.delay(phone=p, text=text))
        audit_record(**refund_event(refund, "refund.escalated", actor=None,
                                    data={"deadline": refund.review_deadline.isoformat(), "notified": len(phones)}))
    return True


def refunds_escalate_overdue(*, now=None, limit: int = ESCALATION_BATCH) -> int:
    """The periodic task: escalate every review past its deadline that was not escalated yet."""
    now = now or timezone.now()
    due = list(
        RefundRequest.objects.filter(status=RefundStatus.PENDING_REVIEW, escalated_at__isnull=True,
                                     review_deadline__lte=now)
        .order_by("review_deadline").values_list("pk", flat=True)[:limit]
    )
    return sum(1 for refund_id in due if refund_escalate(refund_id=refund_id, now=now))
