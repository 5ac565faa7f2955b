"""The gateway registry: one adapter per payment channel.

An adapter is a ``Gateway``. Channels that keep the money in our own database (gift cards, the
canteen meal subsidy) are *wallets*: ``settle`` takes the money inside the payment's transaction,
after the order row is locked. External providers (WeChat Pay, Alipay, coming with the gateways
issue) are not wallets: ``start`` is called after commit, outside any transaction, and the result
arrives by notification or ``query``. Apps register their adapters in ``AppConfig.ready()``;
payments never imports them (canteen registers ``meal_subsidy``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.api import DomainError


class UnknownChannel(DomainError):
    code = "unknown_channel"
    status_code = 400

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("This payment channel is not available."), **kwargs)


class NotificationInvalid(DomainError):
    """A provider notification we refuse: forged or missing signature, stale, malformed, too big."""

    code = "invalid_notification"
    status_code = 400


class GatewayError(Exception):
    """The provider refused the call and nothing happened there (a definite 4xx answer)."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}" if message else code)
        self.code, self.message = code, message


class GatewayUnavailable(Exception):
    """No definite answer (timeout, connection error, 5xx): the call may or may not have taken
    effect. Never a failure: the payment or refund becomes ``unknown`` / stays ``processing`` and
    is asked about again."""


@dataclass(frozen=True)
class PaymentAction:
    """What the payer does next: nothing (settled), follow a URL, scan a QR code, or make a bank
    transfer quoting ``reference`` (corporate accounts)."""

    kind: str = "none"  # "none" | "redirect" | "qr" | "transfer"
    url: str = ""
    qr_content: str = ""
    reference: str = ""


@dataclass(frozen=True)
class ProviderPayment:
    """What the provider says about one of our payments (``query``)."""

    status: str  # "pending" | "succeeded" | "closed" | "not_found"  (refunded afterwards still "succeeded")
    amount: Decimal | None = None
    provider_trade_no: str = ""
    payer_account: str = ""  # masked
    paid_at: datetime | None = None


@dataclass(frozen=True)
class ProviderRefund:
    """What the provider says about one refund (``refund`` / ``query_refund``)."""

    status: str  # "processing" | "succeeded" | "failed" | "not_found"
    provider_refund_id: str = ""
    amount: Decimal | None = None
    failure_reason: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Notification:
    """A verified provider notification. Only a hint: the payment is queried for the truth."""

    event_id: str
    event_type: str  # e.g. "payment.succeeded", "payment.closed", "refund.succeeded", "refund.abnormal"
    out_trade_no: str = ""
    out_refund_no: str = ""
    payload: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StatementLine:
    reference: str  # out_trade_no (captures) or out_refund_no (refunds)
    amount: Decimal
    at: datetime | None = None
    provider_id: str = ""  # trade_no / refund_id
    out_trade_no: str = ""  # refunds: the payment refunded


@dataclass(frozen=True)
class Statement:
    """A provider's daily statement: what it captured and refunded that (provider) day."""

    day: date
    captures: list[StatementLine]
    refunds: list[StatementLine]


class Gateway:
    channel: str = ""
    label = ""
    wallet: bool = False  # settles inside our transaction
    staff_only: bool = False  # recorded by store staff (payment at the counter)
    partial: bool = False  # may pay part of what is left (split payment); none may yet
    polled: bool = False  # external provider: pending payments and refunds are queried until final
    reconciled: bool = False  # the provider has a daily statement to reconcile against
    # Refunds: when the money reaches the payer (business days after we send it; (0, 0): at once),
    # and the order in which an order's payments give money back (lower first; a subsidy that an
    # organisation paid goes back last, so the payer's own money comes back first).
    refund_days: tuple[int, int] = (1, 3)
    refund_priority: int = 0

    def available(self, *, order, user) -> bool:
        """Whether ``user`` may pay ``order`` with this channel (store settings, membership...)."""
        return True

    def offer(self, *, order, user, due: Decimal) -> Decimal:
        """Partial channels: how much of ``due`` this channel can pay for ``user`` now (the pay
        page offers it first and the rest by another channel); 0 when nothing."""
        return Decimal("0.00")

    def offer_note(self, *, order, user) -> str:
        """A line for the pay page beside the offer (a balance, a limit)."""
        return ""

    def enabled_at(self, store) -> bool:
        """Whether the store offers this channel (``Store.payment_channels``; empty means all)."""
        if self.staff_only:
            return True
        enabled = getattr(store, "payment_channels", None) or []
        return not enabled or self.channel in enabled

    def pay_before(self, payment, *, order, now) -> datetime:
        """External channels: when the payer's chance to pay ends (sent to the provider as the
        payment's expiry). By default the order's own expiry."""
        return order.expires_at

    def action_for(self, payment) -> PaymentAction:
        """What the payer does next for a payment already opened (a second click, a reload)."""
        if payment.action_url:
            return PaymentAction(kind="redirect", url=payment.action_url, qr_content=payment.qr_content)
        return PaymentAction()

    def settle(self, *, payment, params: dict, actor) -> None:
        """Wallets: take the money for ``payment`` (locked order, inside the transaction) and
        call ``payment.succeed(...)``; raise a ``DomainError`` to refuse with nothing taken."""
        raise NotImplementedError

    def start(self, payment) -> PaymentAction:
        """External channels: open the payment at the provider (called after commit, outside any
        transaction). Raises ``GatewayError`` (refused, nothing happened) or
        ``GatewayUnavailable`` (no definite answer)."""
        raise NotImplementedError

    def query(self, payment) -> ProviderPayment:
        raise NotImplementedError

    def close(self, payment) -> ProviderPayment:
        """Close an unpaid payment at the provider so it can never be paid any more. Returns the
        provider's view afterwards (``closed``, or ``succeeded`` if it was paid meanwhile)."""
        raise NotImplementedError

    @property
    def refunds_at_once(self) -> bool:
        return self.refund_days == (0, 0)

    def refund(self, refund_attempt) -> ProviderRefund:
        """Send money back, keyed by ``refund_attempt.out_refund_no`` (same key on every retry)."""
        raise NotImplementedError

    def query_refund(self, refund_attempt) -> ProviderRefund:
        raise NotImplementedError

    def parse_notification(self, request) -> Notification:
        """Verify and parse a provider callback; raises ``NotificationInvalid``."""
        raise NotImplementedError

    def statement(self, day: date) -> Statement:
        raise NotImplementedError


class GatewayRegistry:
    def __init__(self):
        self._gateways: dict[str, Gateway] = {}

    def register(self, gateway: Gateway) -> Gateway:
        if not gateway.channel:
            raise ImproperlyConfigured("A gateway needs a channel name.")
        existing = self._gateways.get(gateway.channel)
        if existing is not None and type(existing) is not type(gateway):
            raise ImproperlyConfigured(f"Channel {gateway.channel!r} is already registered.")
        self._gateways[gateway.channel] = gateway
        return gateway

    def get(self, channel: str) -> Gateway:
        try:
            return self._gateways[channel]
        except (KeyError, TypeError):
            raise UnknownChannel() from None

    def label(self, channel: str) -> str:
        gateway = self._gateways.get(channel)
        return str(gateway.label) if gateway is not None else channel

    def channels(self) -> list[str]:
        return list(self._gateways)

    def for_customer(self, *, order, user) -> list[Gateway]:
        """Channels a customer may choose for this order, in registration order."""
        return [
            g for g in self._gateways.values()
            if not g.staff_only and g.enabled_at(order.store) and g.available(order=order, user=user)
        ]


registry = GatewayRegistry()
