"""Reads of refunds: a customer's requests, what an order can still refund, the expected arrival,
the timeline, the review queue and the context a reviewer needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q, QuerySet, Sum, prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _

from config.money import money
from ordering.models import Order, OrderLine, OrderStatus
from payments.gateways import registry
from payments.models import Payment, PaymentStatus, RefundDestination
from stores.selectors import store_ids_visible_to

from .allocation import allocate
from .errors import RefundNotFound
from .models import HOLDING, OPEN, RefundAllocation, RefundLine, RefundRequest, RefundStatus
from .policy import Arrival, expected_arrival, policy_for
from .services._common import kept_paid

BANK_DAYS = (1, 5)


def _detail_prefetches() -> tuple[Prefetch, Prefetch]:
    return (
        Prefetch("lines", queryset=RefundLine.objects.select_related("order_line").order_by("order_line__position")),
        Prefetch("allocations", queryset=RefundAllocation.objects.select_related("attempt", "payment",
                                                                                 "attempt__credit_card")),
    )


def _with_details(qs: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
    return qs.select_related("order__store", "customer", "requested_by", "reviewer").prefetch_related(
        *_detail_prefetches())


def refund_with_details(refund: RefundRequest) -> RefundRequest:
    """A request a service has just returned (its row as committed), with the lines and shares
    ``refund_view`` shows read in: what a response to the act shows, without reading it again."""
    lines, allocations = _detail_prefetches()
    prefetch_related_objects([refund], *((lines, allocations) if refund.submitted_at else (lines,)))
    return refund


def _allocations(refund: RefundRequest) -> list[RefundAllocation]:
    """The request's shares over the order's payments: made when it is sent (``submitted_at``),
    so a request not sent yet has none and nothing is read."""
    return list(refund.allocations.all()) if refund.submitted_at else []


def refund_get_for_customer(*, user, refund_id) -> RefundRequest:
    """The customer's own request; anybody else's answers like an unknown one."""
    if not getattr(user, "is_authenticated", False):
        raise RefundNotFound()
    try:
        return _with_details(RefundRequest.objects.filter(customer=user)).get(pk=refund_id)
    except (RefundRequest.DoesNotExist, ValueError, TypeError, ValidationError):
        raise RefundNotFound() from None


def refund_get_for_staff(*, user, refund_id) -> RefundRequest:
    visible = store_ids_visible_to(user)
    qs = RefundRequest.objects.all() if visible is None else RefundRequest.objects.filter(store_id__in=visible)
    try:
        return _with_details(qs).get(pk=refund_id)
    except (RefundRequest.DoesNotExist, ValueError, TypeError, ValidationError):
        raise RefundNotFound() from None


def refund_list_for_order(order: Order) -> list[RefundRequest]:
    return list(_with_details(RefundRequest.objects.filter(order=order)).order_by("created_at"))


# --- what is left to refund -----------------------------------------------------------------


@dataclass(frozen=True)
class RefundableLine:
    line: OrderLine
    remaining: int


@dataclass(frozen=True)
class OrderRefundable:
    """What an order can still refund: portions per line and money (for the refund form)."""

    lines: list[RefundableLine]
    amount: Decimal
    has_open_request: bool

    @property
    def any(self) -> bool:
        return self.amount > 0 and any(line.remaining > 0 for line in self.lines)


def order_refundable(order: Order) -> OrderRefundable:
    if order.status not in (OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY, OrderStatus.COMPLETED):
        return OrderRefundable(lines=[], amount=Decimal("0.00"), has_open_request=False)
    held = dict(
        RefundLine.objects.filter(refund__order=order, refund__status__in=HOLDING).values("order_line_id")
        .annotate(q=Sum("quantity")).values_list("order_line_id", "q")
    )
    requests = RefundRequest.objects.filter(order=order)
    committed = requests.filter(status__in=HOLDING).aggregate(s=Sum("amount"))["s"] or Decimal("0")
    lines = [RefundableLine(line=line, remaining=line.quantity - held.get(line.pk, 0))
             for line in order.lines.all()]
    return OrderRefundable(
        lines=lines, amount=money(max(kept_paid(order) - committed, Decimal("0"))),
        has_open_request=requests.filter(status__in=OPEN).exists(),
    )


# --- when the money arrives -----------------------------------------------------------------


def _days_of(channel: str, destination: str) -> tuple[int, int]:
    if destination == RefundDestination.GIFT_CARD:
        return (0, 0)
    if destination == RefundDestination.BANK_TRANSFER:
        return BANK_DAYS
    try:
        return registry.get(channel).refund_days
    except Exception:
        return (1, 3)


def refund_channels(refund: RefundRequest) -> list[tuple[str, str, Decimal]]:
    """(channel, destination, amount) the money goes back through: the live shares once sent,
    else the shares the allocation rule would make now."""
    allocations = _allocations(refund)
    replaced = {a.replaces_id for a in allocations if a.replaces_id}
    live = [a for a in allocations if a.pk not in replaced]
    if live:
        return [(a.payment.channel, a.attempt.destination, a.amount) for a in live]
    if refund.status not in (RefundStatus.PENDING_REVIEW, RefundStatus.APPROVED, RefundStatus.REQUESTED):
        return []
    payments = list(Payment.objects.filter(order_id=refund.order_id, status=PaymentStatus.SUCCEEDED))
    try:
        shares = allocate(payments, refund.amount)
    except ValueError:
        return []
    return [(share.payment.channel, RefundDestination.ORIGINAL, share.amount) for share in shares]


def refund_arrival(refund: RefundRequest, channels: list[tuple[str, str, Decimal]] | None = None) -> Arrival:
    """When the money should arrive; ``channels`` are ``refund_channels(refund)`` when known."""
    if channels is None:
        channels = refund_channels(refund)
    ranges = [_days_of(channel, destination) for channel, destination, _amount in channels]
    return expected_arrival(ranges, sent_at=refund.submitted_at)


# --- the timeline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    at: datetime | None
    label: str
    detail: str = ""
    done: bool = True
    bad: bool = False


def refund_timeline(refund: RefundRequest, arrival: Arrival | None = None) -> list[Step]:
    """What happened to a request, for the customer, in order, with what comes next
    (``arrival``: ``refund_arrival(refund)`` when known)."""
    steps = [Step(refund.created_at, _("Asked for a refund"),
                  _("At the store counter") if refund.source == "counter" else "")]
    if refund.review_deadline:
        steps.append(Step(refund.created_at, _("Waiting for review"),
                          _("The store answers by %(time)s") % {
                              "time": timezone.localtime(refund.review_deadline).strftime("%H:%M")}))
    if refund.status == RefundStatus.REJECTED:
        steps.append(Step(refund.finished_at, _("Not approved"), refund.review_note or refund.decision, bad=True))
        return steps
    if refund.status == RefundStatus.WITHDRAWN:
        steps.append(Step(refund.finished_at, _("Withdrawn by you")))
        return steps
    if refund.approved_at:
        steps.append(Step(refund.approved_at, _("Approved"),
                          _("Approved automatically") if refund.decision == "auto" else ""))
    if refund.submitted_at:
        steps.append(Step(refund.submitted_at, _("Money sent back")))
    if refund.status == RefundStatus.FAILED:
        steps.append(Step(refund.finished_at, _("Refund failed"), refund.failure_reason, bad=True))
    elif refund.status == RefundStatus.SUCCEEDED:
        steps.append(Step(refund.finished_at, _("Refunded")))
    else:
        arrival = arrival or refund_arrival(refund)
        if arrival.at_once:
            detail = _("At once")
        elif arrival.earliest == arrival.latest:
            detail = _("By %(date)s") % {"date": arrival.latest.isoformat()}
        else:
            detail = _("Between %(start)s and %(end)s") % {"start": arrival.earliest.isoformat(),
                                                           "end": arrival.latest.isoformat()}
        steps.append(Step(None, _("Money arrives"), detail, done=False))
    return steps


# --- a request as its customer sees it ------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """Part of a refund going back through one payment: channel, destination, amount, where."""

    channel: str
    channel_label: str
    destination: str
    destination_label: str
    amount: Decimal
    status: str | None
    account: str


@dataclass(frozen=True)
class RefundView:
    refund: RefundRequest
    shares: list[Share]
    expected_arrival: Arrival
    timeline: list[Step]
    can_withdraw: bool
    can_change_destination: bool

    def __getattr__(self, name):  # the request's own fields, for serializers and templates
        return getattr(self.refund, name)


def refund_shares(refund: RefundRequest, channels: list[tuple[str, str, Decimal]] | None = None) -> list[Share]:
    """Where the money goes, share by share; ``channels`` are ``refund_channels(refund)`` when known."""
    allocations = _allocations(refund)
    replaced = {a.replaces_id for a in allocations if a.replaces_id}
    live = [a for a in allocations if a.pk not in replaced]
    if live:
        shares = []
        for a in live:
            attempt = a.attempt
            account = ""
            if attempt.destination == RefundDestination.GIFT_CARD and attempt.credit_card_id:
                account = attempt.credit_card.masked_code
            elif attempt.destination == RefundDestination.BANK_TRANSFER:
                account = " ".join(filter(None, [attempt.bank_name, attempt.masked_bank_account]))
            shares.append(Share(
                channel=a.payment.channel, channel_label=registry.label(a.payment.channel),
                destination=attempt.destination, destination_label=attempt.get_destination_display(),
                amount=a.amount, status=attempt.status, account=account,
            ))
        return shares
    return [
        Share(channel=channel, channel_label=registry.label(channel), destination=destination,
              destination_label=RefundDestination(destination).label, amount=amount, status=None, account="")
        for channel, destination, amount in (refund_channels(refund) if channels is None else channels)
    ]


def refund_view(refund: RefundRequest) -> RefundView:
    """Everything the refund page and ``GET /api/v1/refunds/{id}/`` show about a request."""
    channels = refund_channels(refund)  # read once: the shares, the arrival and the timeline use them
    arrival = refund_arrival(refund, channels)
    return RefundView(
        refund=refund, shares=refund_shares(refund, channels), expected_arrival=arrival,
        timeline=refund_timeline(refund, arrival),
        can_withdraw=refund.status == RefundStatus.PENDING_REVIEW,
        can_change_destination=refund.status == RefundStatus.FAILED,
    )


def refunds_of_customer(user, *, limit: int = 50) -> list[RefundRequest]:
    return list(RefundRequest.objects.filter(customer=user).select_related("order__store")
                .order_by("-created_at")[:limit])


def refund_refusal(order: Order, *, now=None) -> str | None:
    """Why this order's customer cannot ask for a refund now (frozen account, not paid, too
    late, nothing left), or ``None``: what the order page and the refund form tell them first."""
    from .errors import RefundNotAllowed
    from .policy import check_order_refundable

    customer = order.customer
    if customer is not None and customer.is_frozen:
        return _("This account is frozen (%(reason)s), so it cannot ask for refunds. Please contact support.") % {
            "reason": customer.frozen_reason or "-"}
    try:
        check_order_refundable(order, policy_for(order.brand_id), now=now or timezone.now())
    except RefundNotAllowed as exc:
        return str(exc.message)
    if not order_refundable(order).any:
        return _("Everything paid for this order has been refunded or asked for already.")
    return None


def counter_orders_find(*, store, query: str, now=None) -> list[Order]:
    """Online orders of ``store`` a customer may want refunded at the counter: by the customer's
    phone (their orders of the last 30 days) or by today's order number."""
    query = "".join(str(query or "").split())[:20]
    if not query.isdigit():
        return []
    qs = Order.objects.filter(store=store, customer__isnull=False).exclude(
        status__in=(OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED)).select_related("customer")
    now = now or timezone.now()
    if len(query) == 11:
        qs = qs.filter(customer__phone=query, created_at__gte=now - timedelta(days=30))
    elif len(query) <= 4:
        qs = qs.filter(number=int(query), business_date=timezone.localdate(now))
    else:
        return []
    return list(qs.order_by("-created_at")[:20])


def counter_refunds_recent(*, store, limit: int = 20) -> list[RefundRequest]:
    """The refunds asked for at this store's counter lately, newest first."""
    return list(RefundRequest.objects.filter(store=store, source="counter").select_related("order", "customer",
                                                                                           "requested_by")
                .order_by("-created_at")[:limit])


# --- review ---------------------------------------------------------------------------------


def review_queue_for(user) -> QuerySet[RefundRequest]:
    """Requests waiting for review that ``user`` may see, soonest deadline first."""
    visible = store_ids_visible_to(user)
    qs = RefundRequest.objects.filter(status=RefundStatus.PENDING_REVIEW)
    if visible is not None:
        qs = qs.filter(store_id__in=visible)
    return qs.select_related("order__store", "customer").order_by("review_deadline", "created_at")


@dataclass(frozen=True)
class CustomerRefundStats:
    paid_30d: Decimal
    refunded_30d: Decimal
    orders_30d: int
    requests_30d: int
    rejected_30d: int

    @property
    def ratio(self) -> Decimal | None:
        return (self.refunded_30d / self.paid_30d).quantize(Decimal("0.01")) if self.paid_30d else None


def customer_refund_stats(customer, *, now=None) -> CustomerRefundStats:
    """A customer's last 30 days, for the reviewer: paid, refunds held, their ratio."""
    since = (now or timezone.now()) - timedelta(days=30)
    payments = Payment.objects.filter(order__customer=customer, succeeded_at__gte=since,
                                      status__in=(PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED))
    paid = payments.aggregate(s=Sum("amount"), n=Count("order_id", distinct=True))
    requests = RefundRequest.objects.filter(customer=customer, created_at__gte=since).aggregate(
        held=Sum("amount", filter=Q(status__in=HOLDING)), n=Count("pk"),
        rejected=Count("pk", filter=Q(status=RefundStatus.REJECTED)),
    )
    return CustomerRefundStats(
        paid_30d=money(paid["s"] or Decimal("0")), refunded_30d=money(requests["held"] or Decimal("0")),
        orders_30d=paid["n"] or 0, requests_30d=requests["n"] or 0, rejected_30d=requests["rejected"] or 0,
    )


def refund_policy_for(brand_id: int):
    return policy_for(brand_id)


def customer_refunds_for_staff(*, user, customer, exclude_order_id=None, limit: int = 20) -> list[RefundRequest]:
    """A customer's latest requests in the stores ``user`` may see, newest first (the reviewer's
    "previous refunds of this customer"); those of ``exclude_order_id`` left out."""
    visible = store_ids_visible_to(user)
    qs = RefundRequest.objects.filter(customer=customer)
    if visible is not None:
        qs = qs.filter(store_id__in=visible)
    if exclude_order_id is not None:
        qs = qs.exclude(order_id=exclude_order_id)
    return list(qs.select_related("order__store").order_by("-created_at", "pk")[:limit])
