"""A scriptable external provider for the payment service tests (the sandbox itself is tested
in tests/payments/sandbox and used end to end in the chaos tests)."""

from __future__ import annotations

import json
from decimal import Decimal

from payments.gateways import (
    Gateway,
    GatewayError,
    GatewayUnavailable,
    Notification,
    NotificationInvalid,
    PaymentAction,
    ProviderPayment,
    ProviderRefund,
    Statement,
    registry,
)


class FakeProvider(Gateway):
    channel = "fakepay"
    label = "FakePay"
    polled = True
    reconciled = True

    def __init__(self):
        self.trades: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.down = False  # every call raises GatewayUnavailable
        self.start_error: Exception | None = None
        self.start_takes_effect = True  # with start_error: did the provider get the payment anyway?
        self.refund_outcome = "succeeded"  # or "processing" / "failed"
        self.refund_calls = 0

    def _check(self):
        if self.down:
            raise GatewayUnavailable("provider down")

    # test helpers
    def pay(self, payment, amount: Decimal | None = None):
        trade = self.trades[payment.out_trade_no]
        trade.update(status="succeeded", amount=amount if amount is not None else trade["amount"])

    def start(self, payment) -> PaymentAction:
        if self.start_error is not None:
            if self.start_takes_effect:
                self.trades[payment.out_trade_no] = {"status": "pending", "amount": payment.amount}
            raise self.start_error
        self._check()
        self.trades.setdefault(payment.out_trade_no, {"status": "pending", "amount": payment.amount})
        return PaymentAction(kind="redirect", url=f"https://fakepay.test/pay/{payment.out_trade_no}")

    def query(self, payment) -> ProviderPayment:
        self._check()
        trade = self.trades.get(payment.out_trade_no)
        if trade is None:
            return ProviderPayment(status="not_found")
        return ProviderPayment(status=trade["status"], amount=trade["amount"],
                               provider_trade_no=f"T{payment.out_trade_no[:8]}", payer_account="****9876")

    def close(self, payment) -> ProviderPayment:
        self._check()
        trade = self.trades.setdefault(payment.out_trade_no, {"status": "closed", "amount": payment.amount})
        if trade["status"] == "succeeded":
            return self.query(payment)
        trade["status"] = "closed"
        return ProviderPayment(status="closed")

    def refund(self, refund_attempt) -> ProviderRefund:
        self._check()
        self.refund_calls += 1
        refund = self.refunds.setdefault(
            refund_attempt.out_refund_no, {"amount": refund_attempt.amount, "status": self.refund_outcome}
        )
        if refund["amount"] != refund_attempt.amount:
            raise GatewayError("OUT_REFUND_NO_USED", "another amount")
        return ProviderRefund(status=refund["status"], provider_refund_id=f"R{refund_attempt.out_refund_no[-6:]}",
                              failure_reason="account closed" if refund["status"] == "failed" else "")

    def query_refund(self, refund_attempt) -> ProviderRefund:
        self._check()
        refund = self.refunds.get(refund_attempt.out_refund_no)
        if refund is None:
            return ProviderRefund(status="not_found")
        return ProviderRefund(status=refund["status"], provider_refund_id=f"R{refund_attempt.out_refund_no[-6:]}")

    def parse_notification(self, request) -> Notification:
        if request.headers.get("X-Fake-Signature") != "good":
            raise NotificationInvalid("bad signature", code="bad_signature")
        try:
            data = json.loads(request.body)
            return Notification(event_id=data["id"], event_type=data["type"],
                                out_trade_no=data.get("out_trade_no", ""),
                                out_refund_no=data.get("out_refund_no", ""), payload=data)
        except (ValueError, KeyError, TypeError):
            raise NotificationInvalid("malformed", code="malformed") from None

    def statement(self, day):  # pragma: no cover - reconciliation tests have their own
        return Statement(day=day, captures=[], refunds=[])


def install(provider: FakeProvider) -> FakeProvider:
    registry._gateways[provider.channel] = provider
    return provider


def uninstall(provider: FakeProvider) -> None:
    registry._gateways.pop(provider.channel, None)
