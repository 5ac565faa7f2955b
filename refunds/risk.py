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

from django.db.models import Q

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


def _same_address(stored: str, given: str) -> bool:
    """Whether the address the database gives back is ``given`` (both may be written in
    several ways: IPv6 zeros, upper case)."""
    try:
        return ipaddress.ip_address(stored) == ipaddress.ip_address(given)
    except ValueError:
        return stored == given


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
    hour_ago = now - timedelta(hours=1)
    network = network_of(ip) if policy.network_rule_enabled and ip else ""
    window = now - timedelta(minutes=policy.network_window_minutes)

    # One read of refund requests for the velocity, ratio and network rules, counted here: the
    # customer's own requests of the last 30 days (at most a few hundred: the velocity rule
    # freezes a flood), and other customers' requests of the brand from this address or its
    # subnet within the network window. Each side is served by its own index. Plain rows and
    # sums in Python cost a fraction of filtered aggregates' query building on this hot path.
    rows = Q(customer=customer, created_at__gte=min(since, hour_ago))
    if policy.network_rule_enabled and ip:
        nearby = Q(ip=ip) | Q(network=network) if network else Q(ip=ip)
        rows |= Q(brand_id=policy.brand_id, created_at__gte=window) & nearby & ~Q(customer=customer)
    last_hour, held_30d, same_ip, same_net = 0, Decimal("0"), {customer.pk}, {customer.pk}
    for customer_id, created_at, status, held, row_ip, row_network in RefundRequest.objects.filter(rows).values_list(
        "customer_id", "created_at", "status", "amount", "ip", "network"
    ):
        if customer_id == customer.pk:
            last_hour += created_at >= hour_ago
            if status in HOLDING and created_at >= since:
                held_30d += held
        else:
            if row_ip is not None and _same_address(row_ip, ip):
                same_ip.add(customer_id)
            if network and row_network == network:
                same_net.add(customer_id)

    recent = last_hour + 1
    if recent > policy.velocity_max_per_hour:
        result.flags.append({"rule": "velocity", "requests_last_hour": recent,
                             "max": policy.velocity_max_per_hour, "freezes": True})
        result.block = result.freeze = True

    paid_orders, paid = set(), Decimal("0")
    for order_id, payment_amount in Payment.objects.filter(
        order__customer=customer, status__in=(PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED),
        succeeded_at__gte=since,
    ).values_list("order_id", "amount"):
        paid_orders.add(order_id)
        paid += payment_amount
    if len(paid_orders) >= policy.ratio_min_orders:
        paid = money(paid)
        refunded = money(held_30d + amount)
        ratio = (refunded / paid) if paid > 0 else Decimal("1")
        if ratio > policy.ratio_threshold:
            result.flags.append({"rule": "ratio", "refunded_30d": str(refunded), "paid_30d": str(paid),
                                 "ratio": str(ratio.quantize(Decimal("0.01"))),
                                 "threshold": str(policy.ratio_threshold), "orders_30d": len(paid_orders)})

    if policy.network_rule_enabled and ip:
        accounts_ip, accounts_net = len(same_ip), len(same_net) if network else 0
        if accounts_ip >= policy.ip_max_accounts:
            result.flags.append({"rule": "network_ip", "ip": ip, "accounts": accounts_ip,
                                 "max": policy.ip_max_accounts, "window_minutes": policy.network_window_minutes,
                                 "freezes": True})
            result.freeze = True
        elif accounts_net >= policy.subnet_max_accounts:
            result.flags.append({"rule": "network_subnet", "subnet": network, "accounts": accounts_net,
                                 "max": policy.subnet_max_accounts,
                                 "window_minutes": policy.network_window_minutes, "freezes": True})
            result.freeze = True
    return result
