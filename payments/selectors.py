"""Reads of payments: what is left to pay on an order, and a customer's gift cards.

Every read the payment pages and services need beyond one row; scoped to the customer.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Prefetch, Sum

from config.money import money
from ordering.errors import OrderNotFound
from ordering.models import Order
from ordering.selectors import order_get_for_customer

from .models import IN_FLIGHT, GiftCard, GiftCardEntry, PaymentStatus

RECENT_ENTRIES = 10


def order_amount_due(order) -> Decimal:
    """What is left to pay: the total less succeeded payments (never below zero).

    Payments still waiting for the payer (a WeChat page left open) do not count: the customer may
    abandon one and pay another way. Should both succeed, the second is refunded automatically
    (``payments.services.provider``)."""
    taken = order.payments.filter(status=PaymentStatus.SUCCEEDED).aggregate(s=Sum("amount"))["s"]
    return max(money(order.total - (taken or 0)), Decimal("0.00"))


def order_payments_in_flight(order) -> list:
    """The order's payments still waiting for an answer (pending at the provider, unknown)."""
    return list(order.payments.filter(status__in=IN_FLIGHT).order_by("created_at"))


def order_payable_by(*, user, order_id) -> Order:
    """The user's own order, or a kiosk order (no customer) that anyone logged in may pay.
    Raises ``OrderNotFound`` otherwise (another customer's order answers like an unknown one)."""
    try:
        return order_get_for_customer(user=user, order_id=order_id)
    except OrderNotFound:
        pass
    order = Order.objects.select_related("store", "brand").filter(pk=order_id, customer__isnull=True).first()
    if order is None:
        raise OrderNotFound()
    return order


def gift_cards_to_pay_with(*, user, brand_id: int) -> list[GiftCard]:
    """The user's active cards of the order's brand, fullest first."""
    return list(GiftCard.objects.filter(owner=user, brand_id=brand_id, is_active=True).order_by("-balance", "pk"))


def gift_cards_of(*, user) -> list[GiftCard]:
    """The user's bound cards, each with its last ledger entries (``recent_entries``): three queries."""
    recent = GiftCardEntry.objects.order_by("-created_at", "-pk")[:RECENT_ENTRIES]
    return list(
        GiftCard.objects.filter(owner=user)
        .select_related("brand")
        .prefetch_related(Prefetch("entries", queryset=recent, to_attr="recent_entries"))
        .order_by("-bound_at", "-pk")
    )
