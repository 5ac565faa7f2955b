"""The gateway registry: one adapter per payment channel.

An adapter is a ``Gateway``. Channels that keep the money in our own database (gift cards, the
canteen meal subsidy) are *wallets*: ``settle`` takes the money inside the payment's transaction,
after the order row is locked. External providers (WeChat Pay, Alipay, coming with the gateways
issue) are not wallets: ``start`` is called after commit, outside any transaction, and the result
arrives by notification or ``query``. Apps register their adapters in ``AppConfig.ready()``;
payments never imports them (canteen registers ``meal_subsidy``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.api import DomainError


class UnknownChannel(DomainError):
    code = "unknown_channel"
    status_code = 400

    def __init__(self, message=None, **kwargs):
        super().__init__(message or _("This payment channel is not available."), **kwargs)


@dataclass(frozen=True)
class PaymentAction:
    """What the payer does next: nothing (settled), follow a URL, or scan a QR code."""

    kind: str = "none"  # "none" | "redirect" | "qr"
    url: str = ""
    qr_content: str = ""


class Gateway:
    channel: str = ""
    label = ""
    wallet: bool = False  # settles inside our transaction
    staff_only: bool = False  # recorded by store staff (payment at the counter)
    partial: bool = False  # may pay part of what is left (split payment); none may yet

    def available(self, *, order, user) -> bool:
        """Whether ``user`` may pay ``order`` with this channel (store settings, membership...)."""
        return True

    def settle(self, *, payment, params: dict, actor) -> None:
        """Wallets: take the money for ``payment`` (locked order, inside the transaction) and
        call ``payment.succeed(...)``; raise a ``DomainError`` to refuse with nothing taken."""
        raise NotImplementedError

    def start(self, payment) -> PaymentAction:  # external providers
        raise NotImplementedError

    def query(self, payment):  # pragma: no cover - external providers
        raise NotImplementedError

    def refund(self, refund_attempt):  # pragma: no cover - the refunds issue
        raise NotImplementedError

    def query_refund(self, refund_attempt):  # pragma: no cover - the refunds issue
        raise NotImplementedError

    def parse_notification(self, request):  # pragma: no cover - external providers
        raise NotImplementedError

    def statement(self, day):  # pragma: no cover - reconciliation
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
        return [g for g in self._gateways.values() if not g.staff_only and g.available(order=order, user=user)]


registry = GatewayRegistry()
