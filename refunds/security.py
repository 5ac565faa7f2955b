"""refunds' part of the 72-hour security report (``audit.security``): requests, amounts and how
they were decided, the risk rules that fired, failures, escalations."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_noop

from audit.security import register_section

from .models import RefundRequest, RefundStatus


def _refunds(brand_id, start, end):
    requests = RefundRequest.objects.filter(created_at__gte=start, created_at__lt=end)
    if brand_id is not None:
        requests = requests.filter(brand_id=brand_id)
    figures = requests.aggregate(
        n=Count("pk"), asked=Sum("amount"),
        auto=Count("pk", filter=Q(decision="auto")),
        reviewed=Count("pk", filter=Q(reviewer__isnull=False)),
        rejected=Count("pk", filter=Q(status=RefundStatus.REJECTED, reviewer__isnull=False)),
        blocked=Count("pk", filter=Q(status=RefundStatus.REJECTED, reviewer__isnull=True)),
        succeeded=Count("pk", filter=Q(status=RefundStatus.SUCCEEDED)),
        refunded=Sum("amount", filter=Q(status=RefundStatus.SUCCEEDED)),
        failed=Count("pk", filter=Q(status=RefundStatus.FAILED)),
        waiting=Count("pk", filter=Q(status=RefundStatus.PENDING_REVIEW)),
        escalated=Count("pk", filter=Q(escalated_at__isnull=False)),
        counter=Count("pk", filter=Q(source="counter")),
    )
    return [
        (gettext_noop("Refund requests"), figures["n"] or 0),
        (gettext_noop("Amount asked (CNY)"), str(figures["asked"] or Decimal("0.00"))),
        (gettext_noop("Approved automatically"), figures["auto"] or 0),
        (gettext_noop("Decided by a reviewer"), figures["reviewed"] or 0),
        (gettext_noop("Rejected by a reviewer"), figures["rejected"] or 0),
        (gettext_noop("Blocked by a risk rule"), figures["blocked"] or 0),
        (gettext_noop("Still waiting for review"), figures["waiting"] or 0),
        (gettext_noop("Escalated to HQ (review overdue)"), figures["escalated"] or 0),
        (gettext_noop("Refunded"), figures["succeeded"] or 0),
        (gettext_noop("Amount refunded (CNY)"), str(figures["refunded"] or Decimal("0.00"))),
        (gettext_noop("Failed at the payment channel"), figures["failed"] or 0),
        (gettext_noop("Asked at a store counter"), figures["counter"] or 0),
    ]


def _risk(brand_id, start, end):
    requests = RefundRequest.objects.filter(created_at__gte=start, created_at__lt=end).exclude(risk_flags=[])
    if brand_id is not None:
        requests = requests.filter(brand_id=brand_id)
    hits = Counter()
    customers = set()
    for flags, customer_id in requests.values_list("risk_flags", "customer_id").iterator():
        customers.add(customer_id)
        for flag in flags or []:
            hits[flag.get("rule", "?")] += 1
    rows = [(gettext_noop("Requests with a risk flag"), requests.count()),
            (gettext_noop("Customers flagged"), len(customers))]
    rows += [(f"· {rule}", count) for rule, count in sorted(hits.items())]
    return rows


register_section(gettext_noop("Refunds"), _refunds)
register_section(gettext_noop("Refund risk rules"), _risk)
