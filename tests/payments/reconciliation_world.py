"""A provider with its own books, for the reconciliation tests.

``BookkeepingProvider`` is the scriptable provider of ``fakes.py`` that also remembers when it
captured and refunded, and builds its daily statement from those books, the way a real provider
does. Tests change the provider's books (a capture we never heard of, another amount, a refund
it lost) and our records stay what the services made of them.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ordering.services import LineRequest
from payments.gateways import ProviderPayment, ProviderRefund, Statement, StatementLine
from payments.models import RefundOrigin
from payments.services import payment_create
from payments.services.provider import payment_sync
from payments.services.reconciliation import PROVIDER_TZ, provider_today
from payments.services.refunding import refund_attempt_create, refund_attempt_execute
from tests.ordering.factories import submit
from tests.payments.fakes import FakeProvider, install, uninstall

CHANNEL = "reconpay"


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    """An aware time on a provider (Asia/Shanghai) day."""
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=PROVIDER_TZ)


class BookkeepingProvider(FakeProvider):
    channel = CHANNEL
    label = "ReconPay"

    def __init__(self):
        super().__init__()
        self.report_paid_at = True  # False: a query answers without the payment time
        self.refund_at: datetime | None = None  # when the provider says a refund succeeded
        self.statement_calls: list[date] = []
        self.statement_error: Exception | None = None

    def pay(self, payment, amount: Decimal | None = None, *, at: datetime):
        super().pay(payment, amount)
        self.trades[payment.out_trade_no]["paid_at"] = at

    def query(self, payment) -> ProviderPayment:
        state = super().query(payment)
        trade = self.trades.get(payment.out_trade_no) or {}
        if self.report_paid_at and trade.get("paid_at"):
            return ProviderPayment(status=state.status, amount=state.amount, provider_trade_no=state.provider_trade_no,
                                   payer_account=state.payer_account, paid_at=trade["paid_at"])
        return state

    def refund(self, refund_attempt) -> ProviderRefund:
        result = super().refund(refund_attempt)
        book = self.refunds[refund_attempt.out_refund_no]
        book.setdefault("out_trade_no", refund_attempt.payment.out_trade_no)
        if result.status == "succeeded":
            book.setdefault("at", self.refund_at or timezone.now())
        return ProviderRefund(status=result.status, provider_refund_id=result.provider_refund_id,
                              failure_reason=result.failure_reason, at=book.get("at"))

    def statement(self, day: date) -> Statement:
        self.statement_calls.append(day)
        if self.down:
            from payments.gateways import GatewayUnavailable

            raise GatewayUnavailable("provider down")
        if self.statement_error is not None:
            raise self.statement_error

        def on_day(when):
            return when is not None and timezone.localtime(when, PROVIDER_TZ).date() == day

        captures = [
            StatementLine(reference=ref, amount=trade["amount"], at=trade["paid_at"], provider_id=f"T{ref[:8]}",
                          out_trade_no=ref)
            for ref, trade in self.trades.items() if trade["status"] == "succeeded" and on_day(trade.get("paid_at"))
        ]
        refunds = [
            StatementLine(reference=ref, amount=refund["amount"], at=refund["at"], provider_id=f"R{ref[-6:]}",
                          out_trade_no=refund.get("out_trade_no", ""))
            for ref, refund in self.refunds.items() if refund["status"] == "succeeded" and on_day(refund.get("at"))
        ]
        return Statement(day=day, captures=captures, refunds=refunds)


def installed():
    """For a fixture: the provider registered under ``CHANNEL`` for the test, then removed."""
    gateway = install(BookkeepingProvider())
    try:
        yield gateway
    finally:
        uninstall(gateway)


def past_day() -> date:
    """A provider day three days ago: its neighbours have statements too."""
    return provider_today() - timedelta(days=3)


def tea_order(customer, store, menu, cups: int = 1):
    """An order of ``cups`` teas at 5.00 (the store price; tea is never out of stock)."""
    return submit(customer, store, menu, lines=[LineRequest(dish_id=menu.tea.pk, quantity=cups)])


def open_payment(customer, order):
    return payment_create(actor=customer, order_id=order.pk, channel=CHANNEL).payment


def captured(provider, customer, order, *, when: datetime, recorded: datetime | None = None):
    """A payment opened by the service, paid at the provider at ``when`` and settled by our query
    (at ``recorded``, default a few seconds later)."""
    payment = open_payment(customer, order)
    provider.pay(payment, at=when)
    return payment_sync(payment_id=payment.pk, now=recorded or when + timedelta(seconds=5))


def refunded(provider, payment, amount: str, *, when: datetime, outcome: str = "succeeded"):
    """A refund of ``amount`` sent through the services; the provider books it at ``when``."""
    provider.refund_outcome, provider.refund_at = outcome, when
    with transaction.atomic():
        attempt = refund_attempt_create(payment=payment, amount=Decimal(amount), origin=RefundOrigin.STAFF,
                                        reason="test")
    return refund_attempt_execute(attempt_id=attempt.pk, now=when)
