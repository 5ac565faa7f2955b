"""Small pieces the payment services share."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db import connection
from django.db.models import Sum
from django.utils.translation import gettext as _

from config.money import money

from ..errors import AmountInvalid
from ..models import Payment, PaymentEvent, PaymentStatus

MAX_GIFT_CARD_AMOUNT = Decimal("10000.00")
LOCK_TIMEOUT = "3s"  # a provider callback waits at most this long for an order row, then gets a 503


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _clean_amount(value, *, maximum: Decimal = MAX_GIFT_CARD_AMOUNT) -> Decimal:
    try:
        amount = money(Decimal(str(value)))
    except (InvalidOperation, TypeError, ValueError):
        raise AmountInvalid(_("Enter an amount in yuan, such as 50 or 12.50.")) from None
    if not amount.is_finite() or amount <= 0:
        raise AmountInvalid(_("The amount must be more than zero."))
    if amount > maximum:
        raise AmountInvalid(_("The amount can be at most %(max)s CNY.") % {"max": maximum})
    return amount


def _order_covered(order) -> bool:
    paid = order.payments.filter(status=PaymentStatus.SUCCEEDED).aggregate(s=Sum("amount"))["s"] or 0
    return paid >= order.total


def _payment_event(payment: Payment, action: str, *, actor, ip=None, data=None, amount=None, reason="") -> dict:
    """An audit event about a payment, for ``audit_record(**event)`` as the last write."""
    return {
        "action": action, "actor": _user(actor), "obj": payment, "brand_id": payment.brand_id,
        "amount": payment.amount if amount is None else amount, "ip": ip, "reason": reason,
        "data": {"order": str(payment.order_id), "channel": payment.channel, "status": payment.status,
                 **(data or {})},
    }


def _short_lock_wait() -> None:
    """Inside a transaction: wait at most ``LOCK_TIMEOUT`` for a row lock (PostgreSQL), so a
    provider callback that finds the order busy fails fast and is retried by the provider."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")


def event_record(*, channel: str, kind: str, payment=None, refund_attempt=None, reference: str = "",
                 payload=None, outcome: str = "", detail: str = "", provider_event_id: str = "",
                 event_type: str = "", brand_id=None, at=None) -> PaymentEvent:
    """Store one exchange with a provider (append-only)."""
    if brand_id is None:
        brand_id = (payment.brand_id if payment is not None
                    else refund_attempt.brand_id if refund_attempt is not None else None)
    values = {"brand_id": brand_id, "channel": channel, "kind": kind, "payment": payment,
              "refund_attempt": refund_attempt, "reference": reference[:64], "payload": payload or {},
              "outcome": outcome[:40], "detail": detail[:255], "provider_event_id": provider_event_id[:64],
              "event_type": event_type[:40]}
    if at is not None:
        values["created_at"] = at
    return PaymentEvent.objects.create(**values)
