"""Risk rules run on every refund request (per-brand settings in ``RefundPolicy``).

Each rule that fires is recorded on the request (``risk_flags``: rule, what it saw, the limit)
and in the audit log. Rules are evaluated inside the request's transaction, after the order row
and the customer's account row are locked, so two requests of one customer are counted one
after the other.

- ``velocity``: more than ``velocity_max_per_hour`` refund requests by one customer within an
  hour (this one included): the account is frozen and the request is blocked (recorded, refused).
- ``ratio``: over the last 30 days the customer's refunds (requests holding money, this one
  included) exceed ``ratio_threshold`` of what they paid, once they have ``ratio_min_orders``
  paid orders: the request goes to review.
- ``network``: ``ip_max_accounts`` different customers asking for refunds from one IP address,
  or ``subnet_max_accounts`` from one /24 (IPv6: /64) subnet, within ``network_window_minutes``:
  the request goes to review and the requesting account is frozen. Canteens where everybody
  shares one address switch this rule off.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum

from config.money import money
from payments.models import Payment, PaymentStatus

from .models import HOLDING, RefundPolicy, RefundRequest


def network_of(ip: str | None) -> str:
    """The /24 (IPv4) or /64 (IPv6) network of an address, as text; '' without one."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@dataclass
class RiskResult:
    flags: list[dict] = field(default_factory=list)
    block: bool = False  # refuse the request (and freeze)
    freeze: bool = False  # freeze the account

    @property
    def freeze_reason(self) -> str:
        return ", ".join(flag["rule"] for flag in self.flags if flag.get("freezes"))


def assess(*, policy: RefundPolicy, customer, amount: Decimal, ip: str | None, now: datetime) -> RiskResult:
    result = RiskResult()
    since = now - timedelta(days=30)
    mine = RefundRequest.objects.filter(customer=customer, created_at__gte=min(since, now - timedelta(hours=1)))
    asked = mine.aggregate(  # one query for the velocity and the ratio rules
        last_hour=Count("pk", filter=Q(created_at__gte=now - timedelta(hours=1))),
        held_30d=Sum("amount", filter=Q(status__in=HOLDING, created_at__gte=since)),
    )

    recent = asked["last_hour"] + 1
    if recent > policy.velocity_max_per_hour:
        result.flags.append({"rule": "velocity", "requests_last_hour": recent,
                             "max": policy.velocity_max_per_hour, "freezes": True})
        result.block = result.freeze = True

    paid_30d = Payment.objects.filter(
        order__customer=customer, status__in=(PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED),
        succeeded_at__gte=since,
    ).aggregate(orders=Count("order_id", distinct=True), paid=Sum("amount"))
    paid_orders = paid_30d["orders"]
    if paid_orders >= policy.ratio_min_orders:
        paid = money(paid_30d["paid"] or Decimal("0"))
        refunded = money((asked["held_30d"] or Decimal("0")) + amount)
        ratio = (refunded / paid) if paid > 0 else Decimal("1")
        if ratio > policy.ratio_threshold:
            result.flags.append({"rule": "ratio", "refunded_30d": str(refunded), "paid_30d": str(paid),
                                 "ratio": str(ratio.quantize(Decimal("0.01"))),
                                 "threshold": str(policy.ratio_threshold), "orders_30d": paid_orders})

    if policy.network_rule_enabled and ip:
        window = now - timedelta(minutes=policy.network_window_minutes)
        others = RefundRequest.objects.filter(brand_id=policy.brand_id, created_at__gte=window).exclude(
            customer=customer
        )
        network = network_of(ip)
        counts = {"ip": Count("customer_id", distinct=True, filter=Q(ip=ip))}  # one query for both rules
        if network:
            counts["net"] = Count("customer_id", distinct=True, filter=Q(network=network))
        accounts = others.filter(Q(ip=ip) | Q(network=network) if network else Q(ip=ip)).aggregate(**counts)
        same_ip = accounts["ip"] + 1
        same_net = (accounts["net"] + 1) if network else 0
        if same_ip >= policy.ip_max_accounts:
            result.flags.append({"rule": "network_ip", "ip": ip, "accounts": same_ip,
                                 "max": policy.ip_max_accounts, "window_minutes": policy.network_window_minutes,
                                 "freezes": True})
            result.freeze = True
        elif same_net >= policy.subnet_max_accounts:
            result.flags.append({"rule": "network_subnet", "subnet": network, "accounts": same_net,
                                 "max": policy.subnet_max_accounts,
                                 "window_minutes": policy.network_window_minutes, "freezes": True})
            result.freeze = True
    return result
