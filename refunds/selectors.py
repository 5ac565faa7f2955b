"""Reads of refunds: a customer's requests, what an order can still refund, the expected arrival,
the timeline, the review queue and the context a reviewer needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch, Q, QuerySet, Sum
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


def _with_details(qs: QuerySet[RefundRequest]) -> QuerySet[RefundRequest]:
    return qs.select_related("order__store", "customer", "requested_by", "reviewer").prefetch_related(
        Prefetch("lines", queryset=RefundLine.objects.select_related("order_line").order_by("order_line__position")),
        Prefetch("allocations", queryset=RefundAllocation.objects.select_related("attempt", "payment",
                                                                                 "attempt__credit_card")),
    )


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
    allocations = list(refund.allocations.all())
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


def refund_arrival(refund: RefundRequest) -> Arrival:
    ranges = [_days_of(channel, destination) for channel, destination, _amount in refund_channels(refund)]
    return expected_arrival(ranges, sent_at=refund.submitted_at)


# --- the timeline ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    at: datetime | None
    label: str
    detail: str = ""
    done: bool = True
    bad: bool = False


def refund_timeline(refund: RefundRequest) -> list[Step]:
    """What happened to a request, for the customer, in order, with what comes next."""
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
        arrival = refund_arrival(refund)
        if arrival.at_once:
            detail = _("At once")
        elif arrival.earliest == arrival.latest:
            detail = _("By %(date)s") % {"date": arrival.latest.isoformat()}
        else:
            detail = _("Between %(start)s and %(end)s") % {"start": arrival.earliest.isoformat(),
                                                           "end": arrival.latest.isoformat()}
        steps.append(Step(None, _("Money arrives"), detail, done=False))
    return steps


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
