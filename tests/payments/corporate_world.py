"""Builders shared by the corporate account tests (test_corporate*.py)."""

from __future__ import annotations

from django.db import transaction

from audit.models import AuditEvent
from payments.models import CorporateAccount, CorporateMember, Payment, PaymentEvent, RefundAttempt, RefundOrigin
from payments.services import payment_create
from payments.services.refunding import refund_attempt_create, refund_attempt_execute


def company_for(brand, *members, name="星河科技有限公司", last4="4321", hours=24, active=True):
    account = CorporateAccount.objects.create(
        brand=brand, name=name, bank_name="招商银行上海分行", bank_account_name=name, bank_account_last4=last4,
        pay_within_hours=hours, is_active=active,
    )
    for user in members:
        CorporateMember.objects.create(account=account, user=user, employee_number=f"E{user.pk}")
    return account


def pay_corporate(customer, order, **kwargs):
    return payment_create(actor=customer, order_id=order.pk, channel="corporate", **kwargs)


def staff_refund(payment, *, actor, amount=None):
    """A refund of a corporate payment by staff, executed as its task would: left processing."""
    with transaction.atomic():
        attempt = refund_attempt_create(payment=payment, amount=amount or payment.amount,
                                        origin=RefundOrigin.STAFF, actor=actor, reason="test")
    return refund_attempt_execute(attempt_id=attempt.pk)


def written():
    """What a refused call must leave unchanged."""
    return (
        list(Payment.objects.order_by("pk").values_list("pk", "status", "provider_trade_no")),
        list(RefundAttempt.objects.order_by("pk").values_list("pk", "status", "transfer_reference")),
        PaymentEvent.objects.count(),
        AuditEvent.objects.count(),
    )
