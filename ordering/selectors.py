"""Reads of orders: money facts, a customer's orders, the kitchen and pickup boards, stuck orders.

The money facts are derived from the order's payments (and, with the refunds issue, refunds)
through their reverse relations; ordering never imports payments (DESIGN.md, dependencies).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import DecimalField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from config.money import money
from stores.models import Brand, Store
from stores.selectors import local_now, store_ids_visible_to

from .errors import OrderNotFound
from .models import KITCHEN_STATES, Order, OrderLine, OrderSource, OrderStatus

# Payment statuses, by value (the payments app owns the model).
_SUCCEEDED = ("succeeded", "refunded")


@dataclass(frozen=True)
class OrderMoney:
    total: Decimal
    paid: Decimal
    refunded: Decimal

    @property
    def due(self) -> Decimal:
        return max(self.total - self.paid, Decimal("0.00"))

    @property
    def refundable(self) -> Decimal:
        return max(self.paid - self.refunded, Decimal("0.00"))


_IN_FLIGHT = ("created", "pending", "unknown")


def order_money(order: Order) -> OrderMoney:
    """Paid and refunded amounts from the order's payments and the refunds sent back from them.
    Through reverse relations: ordering imports nothing from payments."""
    paid = money(order.payments.filter(status__in=_SUCCEEDED).aggregate(s=Sum("amount"))["s"] or Decimal("0"))
    refunded = money(
        order.payments.filter(refund_attempts__status="succeeded").aggregate(s=Sum("refund_attempts__amount"))["s"]
        or Decimal("0")
    )
    return OrderMoney(total=order.total, paid=paid, refunded=refunded)


def order_payment_state(order: Order) -> dict:
    """Why an unpaid order is not paid yet: a payment still waiting for its answer, or the
    latest payment having failed or been cancelled (with its channel's name)."""
    latest = order.payments.order_by("-created_at").first()
    return {
        "awaiting": order.payments.filter(status__in=_IN_FLIGHT).exists(),
        "last_failed": latest if latest is not None and latest.status in ("failed", "cancelled") else None,
    }


def paid_amount_expression():
    """``order_money``'s paid amount as a database expression, to annotate a list of orders in
    one query (the admin changelist). Through the reverse relation: ordering imports no payments."""
    payment_model = Order._meta.get_field("payments").related_model
    total = (
        payment_model.objects.filter(order=OuterRef("pk"), status__in=_SUCCEEDED)
        .order_by()
        .values("order")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    money_field = DecimalField(max_digits=12, decimal_places=2)
    return Coalesce(Subquery(total, output_field=money_field), Value(Decimal("0.00")), output_field=money_field)


def _with_lines(qs: QuerySet[Order]) -> QuerySet[Order]:
    return qs.select_related("store").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("position"))
    )


def order_get_for_customer(*, user, order_id) -> Order:
    """The customer's own order; another customer's answers exactly like an unknown one."""
    if not getattr(user, "is_authenticated", False):
        raise OrderNotFound()
    try:
        return _with_lines(Order.objects.filter(customer=user)).get(pk=order_id)
    except (Order.DoesNotExist, ValueError, ValidationError):
        raise OrderNotFound() from None


def order_list_for_customer(*, user) -> QuerySet[Order]:
    return _with_lines(Order.objects.filter(customer=user)).order_by("-created_at")


def order_get_for_staff(*, user, order_id) -> Order:
    visible = store_ids_visible_to(user)
    qs = Order.objects.all() if visible is None else Order.objects.filter(store_id__in=visible)
    try:
        return _with_lines(qs).get(pk=order_id)
    except (Order.DoesNotExist, ValueError, ValidationError):
        raise OrderNotFound() from None


@dataclass(frozen=True)
class KitchenBoard:
    store: Store
    new: list[Order]
    preparing: list[Order]
    ready: list[Order]
    now: object

    @property
    def waiting_too_long(self) -> list[Order]:
        limit = timedelta(minutes=self.store.brand.kitchen_alert_minutes)
        return [order for order in self.new if order.paid_at and self.now - order.paid_at > limit]


def kitchen_board(*, store: Store, now=None) -> KitchenBoard:
    """Today's tickets of a store by lane, oldest first; three queries whatever the number of tickets."""
    now = now or timezone.now()
    since = now - timedelta(hours=24)
    orders = list(
        _with_lines(Order.objects.filter(store=store, status__in=KITCHEN_STATES, paid_at__gte=since))
        .order_by("paid_at")
    )
    lanes = {status: [] for status in KITCHEN_STATES}
    for order in orders:
        lanes[order.status].append(order)
    return KitchenBoard(
        store=store, new=lanes[OrderStatus.PAID], preparing=lanes[OrderStatus.PREPARING],
        ready=lanes[OrderStatus.READY], now=now,
    )


def ticket_colour(order: Order, *, prep_minutes: int, now) -> str:
    """green within the store's prep time, amber up to 1.5 times it, red beyond."""
    started = order.paid_at or order.created_at
    elapsed = (now - started).total_seconds() / 60
    if elapsed <= prep_minutes:
        return "green"
    if elapsed <= prep_minutes * 1.5:
        return "amber"
    return "red"


def pickup_board(*, store: Store, now=None) -> dict[str, list[str]]:
    """Numbers being prepared and ready for pickup, for the screen above the counter."""
    today = local_now(now).date()
    rows = Order.objects.filter(
        store=store, business_date__in=(today - timedelta(days=1), today),
        status__in=(OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY),
    ).order_by("ready_at", "paid_at").values_list("number", "status")
    board = {"preparing": [], "ready": []}
    for number, status in rows:
        board["ready" if status == OrderStatus.READY else "preparing"].append(f"{number:03d}")
    return board


def kiosk_orders_awaiting_payment(*, store: Store, now=None) -> QuerySet[Order]:
    """Today's kiosk orders of a store still to be paid at the counter (not yet past their expiry)."""
    now = now or timezone.now()
    return _with_lines(Order.objects.filter(
        store=store, source=OrderSource.KIOSK, status=OrderStatus.PENDING_PAYMENT,
        business_date=local_now(now).date(), expires_at__gt=now,
    )).order_by("number")


def stuck_orders(*, user, now=None) -> dict[str, QuerySet[Order]]:
    """Orders that need a human: paid but not started past the brand's alert time, and unpaid
    past expiry but not yet expired (the expiry task is behind or failing)."""
    now = now or timezone.now()
    visible = store_ids_visible_to(user)
    qs = Order.objects.select_related("store", "brand")
    if visible is not None:
        qs = qs.filter(store_id__in=visible)
    late = Q(pk__in=[])
    for brand_id, minutes in Brand.objects.values_list("pk", "kitchen_alert_minutes"):
        late |= Q(brand_id=brand_id, paid_at__lt=now - timedelta(minutes=minutes))
    return {
        "unstarted": qs.filter(late, status=OrderStatus.PAID).order_by("paid_at"),
        "unexpired": qs.filter(status=OrderStatus.PENDING_PAYMENT, expires_at__lt=now).order_by("expires_at"),
    }
