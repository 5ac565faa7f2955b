"""How a refund is shared out over the payments of an order paid in several parts.

The rule: the money goes back through the payments that paid the order, in this order until the
refund is covered:

1. by the channel's ``refund_priority`` (lower first): the payer's own money (WeChat Pay, Alipay,
   gift card, corporate transfer, counter) before money an organisation gave (the canteen meal
   subsidy registers itself with a higher priority). A meal of 30 CNY paid 20 by subsidy (the
   per-meal cap) and 10 by WeChat, refunded 10 CNY, gives the 10 back to WeChat: the 20 CNY meal
   left is still within the cap, so the subsidy it used stays spent.
2. among equal priorities, the most recent payment first;
3. never more from a payment than it still has (its amount less what has been, or is being,
   sent back from it: automatic refunds of duplicates included).

Each share is one refund attempt of the payments app, through that payment's own channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from payments.gateways import registry
from payments.models import Payment, PaymentStatus
from payments.services import refundable_from


@dataclass(frozen=True)
class Share:
    payment: Payment
    amount: Decimal


def _priority(payment: Payment) -> int:
    try:
        return registry.get(payment.channel).refund_priority
    except Exception:  # an unregistered channel (app removed): last, but still refundable
        return 1_000


def allocate(payments: list[Payment], amount: Decimal) -> list[Share]:
    """The shares of ``amount`` (see the module docstring). Raises ``ValueError`` when the
    payments cannot cover it (the request's tally makes that impossible)."""
    candidates = sorted(
        (p for p in payments if p.status == PaymentStatus.SUCCEEDED),
        key=lambda p: (_priority(p), -p.succeeded_at.timestamp() if p.succeeded_at else 0, str(p.pk)),
    )
    left = amount
    shares: list[Share] = []
    for payment in candidates:
        if left <= 0:
            break
        available = refundable_from(payment)
        if available <= 0:
            continue
        take = min(available, left)
        shares.append(Share(payment=payment, amount=take))
        left -= take
    if left > 0:
        raise ValueError(f"payments cannot cover {amount}: {left} left over")
    return shares
