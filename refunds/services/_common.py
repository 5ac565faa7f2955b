"""Pieces the refund services share: locks, the per-order tally, audit events, SMS."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DecimalField, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from config.money import money
from ordering.models import Order
from payments.models import Payment, PaymentStatus, RefundAttempt, RefundAttemptStatus, RefundOrigin

from ..errors import RefundNotFound
from ..models import OrderRefundTally, RefundRequest

# Refunds the payments app makes by itself (a second payment, a late one): not the customer's.
AUTOMATIC_ORIGINS = (RefundOrigin.DUPLICATE, RefundOrigin.LATE, RefundOrigin.AMOUNT_MISMATCH)
MONEY_FIELD = DecimalField(max_digits=12, decimal_places=2)


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def refund_lock(refund_id) -> RefundRequest:
    """The request row, locked (after its order row: the lock order of ``ordering.services``)."""
    try:
        return RefundRequest.objects.select_for_update(of=("self",)).select_related(
            "order__store", "customer"
        ).get(pk=refund_id)
    except (RefundRequest.DoesNotExist, ValueError, TypeError, ValidationError):
        raise RefundNotFound() from None


def order_id_of(refund_id):
    """The order of a request (to lock it first), or ``RefundNotFound``."""
    try:
        order_id = RefundRequest.objects.filter(pk=refund_id).values_list("order_id", flat=True).first()
    except (ValueError, TypeError, ValidationError):
        raise RefundNotFound() from None
    if order_id is None:
        raise RefundNotFound()
    return order_id


def kept_paid(order: Order) -> Decimal:
    """What the order kept of its payments: succeeded payments, less what the payments app sent
    back by itself (second payments, late ones), at most the order's total. One query."""
    zero = Value(Decimal("0"), output_field=MONEY_FIELD)
    automatic = RefundAttempt.objects.filter(
        payment__order_id=order.pk, origin__in=AUTOMATIC_ORIGINS
    ).exclude(status=RefundAttemptStatus.FAILED).order_by().values("payment__order_id").annotate(s=Sum("amount"))
    kept = Payment.objects.filter(
        order_id=order.pk, status__in=(PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)
    ).aggregate(kept=Coalesce(Sum("amount"), zero) - Coalesce(Subquery(automatic.values("s")), zero))["kept"]
    return money(min(order.total, max(kept, Decimal("0"))))


def tally_lock(order: Order, *, now=None) -> OrderRefundTally:
    """The order's tally, locked (after the order row), with ``paid`` brought up to date.

    An order's first request finds none: the tally is then made in memory (``tally.is_new``)
    and written by its first ``tally_move``, the order row lock keeping a twin out meanwhile.
    A new tally means nothing of the order is held yet (requests that hold money move it)."""
    now = now or timezone.now()
    tally = OrderRefundTally.objects.select_for_update().filter(order=order).first()
    paid = kept_paid(order)
    if tally is None:
        tally = OrderRefundTally(order=order, brand_id=order.brand_id, paid=paid, updated_at=now)
        tally.is_new = True
        return tally
    tally.is_new = False
    if paid != tally.paid:
        tally.paid = paid
        tally.updated_at = now
        tally.save(update_fields=["paid", "updated_at"])
    return tally


def tally_move(tally: OrderRefundTally, delta: Decimal, *, now=None) -> None:
    """Hold (+) or release (-) money on a locked tally; the database refuses going past paid."""
    tally.committed = money(tally.committed + delta)
    tally.updated_at = now or timezone.now()
    if tally._state.adding:  # made by tally_lock for the order's first request
        tally.save(force_insert=True)
    else:
        tally.save(update_fields=["committed", "updated_at"])


def refund_event(refund: RefundRequest, action: str, *, actor, ip=None, reason: str = "", data: dict | None = None,
                 amount=None) -> dict:
    """An audit event about a refund request, for ``audit_record(**event)`` as a last write."""
    user = _user(actor)
    return {
        "action": action, "actor": user, "actor_type": None if user else "system", "obj": refund,
        "brand_id": refund.brand_id, "amount": refund.amount if amount is None else amount, "ip": ip,
        "reason": reason,
        "data": {"order": str(refund.order_id), "store": refund.store_id, "customer": refund.customer_id,
                 "status": refund.status, "source": refund.source, **(data or {})},
    }


def save_refund(refund: RefundRequest, actor) -> None:
    refund._history_user = _user(actor)
    refund.save()


def save_new_refund(refund: RefundRequest, *, asked: RefundRequest, actor) -> None:
    """Write a new request decided in the transaction that made it (approved at once, sent to
    review or blocked): one INSERT of the decided row, and its history as two saves would have
    written it, in one INSERT: the request as asked (``asked``, a copy taken before the
    decision's transition; by the actor), then as decided (by the system)."""
    refund.skip_history_when_saving = True
    try:
        refund.save()
    finally:
        del refund.skip_history_when_saving
    history = RefundRequest.history.model
    at = timezone.now()  # the decided row a microsecond later: history orders by date
    history.objects.bulk_create([
        history(history_date=when, history_type=kind, history_user=user, history_change_reason=None,
                **{field.attname: getattr(row, field.attname) for field in history.tracked_fields})
        for row, kind, user, when in ((asked, "+", _user(actor), at),
                                      (refund, "~", None, at + timedelta(microseconds=1)))
    ])


# --- SMS to the customer ------------------------------------------------------------------


def _order_label(refund: RefundRequest) -> str:
    return f"{refund.order.store.code} #{refund.order.display_number}"


def _text(kind: str, refund: RefundRequest, arrival=None) -> str:
    label, amount = _order_label(refund), refund.amount
    if kind == "approved":
        if arrival is not None and not arrival.at_once:
            return _("Your refund of %(amount)s CNY for order %(order)s was approved; it should arrive by "
                     "%(date)s.") % {"amount": amount, "order": label, "date": date_format(arrival.latest, "n月j日")}
        return _("Your refund of %(amount)s CNY for order %(order)s was approved.") % {"amount": amount,
                                                                                      "order": label}
    if kind == "rejected":
        return _("Your refund request for order %(order)s was not approved: %(note)s") % {
            "order": label, "note": refund.review_note or "-"}
    if kind == "succeeded":
        return _("%(amount)s CNY for order %(order)s has been refunded.") % {"amount": amount, "order": label}
    if kind == "failed":
        return _("Your refund of %(amount)s CNY for order %(order)s could not be paid out (%(reason)s). Open the "
                 "order to choose another way, or contact the store.") % {
            "amount": amount, "order": label, "reason": refund.failure_reason or "-"}
    raise ValueError(kind)


def notify_customer(refund: RefundRequest, kind: str) -> None:
    """Tell the customer by SMS about their refund, once the transaction commits. The text is
    written by the task (``refunds.tasks.refund_notify_task``), off the request's path: the
    expected arrival it names takes reading the refund's payments."""
    from ..tasks import refund_notify_task

    refund_id = str(refund.pk)
    transaction.on_commit(lambda: refund_notify_task.delay(refund_id=refund_id, kind=kind))


def notify_text(refund: RefundRequest, kind: str) -> str:
    """The SMS about ``refund`` (in the product's language: SMS go out in Chinese)."""
    from ..selectors import refund_arrival

    arrival = refund_arrival(refund) if kind == "approved" else None
    with translation.override(settings.LANGUAGE_CODE):
        return _text(kind, refund, arrival)
