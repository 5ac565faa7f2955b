"""A provider that captures another amount than ours, end to end with the payment sandbox (in
process): its notification fails the payment for good ("amount_mismatch", audited), the order is
not paid but payable again, the pay page says why, and the day's reconciliation files the money
the provider kept as an unexplained ``amount_differs`` mismatch until staff resolve it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from audit.models import AuditEvent
from ordering.models import OrderStatus
from ordering.selectors import order_money
from payments.gateways import registry
from payments.models import MismatchKind, PaymentEvent, PaymentStatus, RefundAttempt
from payments.services import payment_create, reconcile_day, reconciliation_mismatch_resolve
from payments.services.reconciliation import provider_today

pytestmark = pytest.mark.django_db


def _sandbox_captures(paysim, payment, fen: int) -> None:
    """Make the sandbox's trade for ``payment`` one of ``fen`` (a provider that charges another
    amount than it was asked for), then let the payer confirm it."""
    with paysim.store.write() as db:
        db.execute("UPDATE trades SET amount = ? WHERE out_trade_no = ?", (fen, payment.out_trade_no))
    paysim.sim_pay(payment.out_trade_no)


@pytest.mark.parametrize("fen", [4400, 4501])
def test_the_sandbox_capturing_another_amount_fails_the_payment_and_reconciliation_flags_it(
    paysim, client, customer, order, hq_manager, fen
):
    payment = payment_create(actor=customer, order_id=order.pk, channel="wechat").payment
    _sandbox_captures(paysim, payment, fen)
    mch = registry.get("wechat").config["mch_id"]
    assert paysim.query_payment(mch, payment.out_trade_no)["status"] == "SUCCESS"
    assert paysim.deliver_due() >= 1  # the sandbox's payment.succeeded notification reaches us

    payment.refresh_from_db()
    order.refresh_from_db()
    captured = (Decimal(fen) / 100).quantize(Decimal("0.01"))
    assert payment.status == PaymentStatus.FAILED and payment.failure_code == "amount_mismatch"
    assert str(captured) in payment.failure_message
    assert payment.next_check_at is None and payment.provider_trade_no
    assert order.status == OrderStatus.PENDING_PAYMENT and order_money(order).paid == Decimal("0.00")
    note = PaymentEvent.objects.get(payment=payment, kind="notification")
    assert (note.outcome, note.detail) == ("pending->failed", "amount_mismatch")
    audit = AuditEvent.objects.get(object_id=str(payment.pk), action="payment.amount_mismatch")
    assert audit.reason == "amount_mismatch" and audit.data["provider_amount"] == str(captured)
    assert not RefundAttempt.objects.filter(payment=payment).exists()

    # The customer sees why and may pay again.
    client.force_login(customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(reverse("payments:order-pay", kwargs={"order_id": order.pk})).content.decode()
    assert "reported a different amount from the one to pay" in html and "Pay with WeChat Pay" in html
    again = payment_create(actor=customer, order_id=order.pk, channel="alipay").payment
    paysim.sim_pay(again.out_trade_no)
    paysim.deliver_due()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order_money(order).paid == Decimal("45.00")

    # The money the provider kept is not lost: reconciliation shows it until it is handled.
    run = reconcile_day(channel="wechat", day=provider_today())
    mismatch = run.mismatches.get()
    assert (mismatch.kind, mismatch.reference, mismatch.amount_ours, mismatch.amount_theirs,
            mismatch.status_ours, mismatch.explanation) == (
        MismatchKind.AMOUNT_DIFFERS, payment.out_trade_no, Decimal("45.00"), captured, "failed", "")
    assert run.status == "mismatches" and run.captures_theirs == captured
    reconciliation_mismatch_resolve(actor=hq_manager, mismatch_id=mismatch.pk,
                                    note="refunded at the provider's merchant console")
    rerun = reconcile_day(channel="wechat", day=provider_today())
    assert rerun.mismatches.get().resolved  # the same finding stays resolved
    assert reconcile_day(channel="alipay", day=provider_today()).status == "matched"


def test_a_duplicated_notification_about_another_amount_changes_nothing(paysim, customer, order):
    paysim.configure({"duplicate_rate": 1.0})
    payment = payment_create(actor=customer, order_id=order.pk, channel="wechat").payment
    _sandbox_captures(paysim, payment, 100)
    assert paysim.deliver_due() >= 2
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert AuditEvent.objects.filter(object_id=str(payment.pk), action="payment.amount_mismatch").count() == 1
    assert PaymentEvent.objects.filter(payment=payment, kind="notification").count() == 1  # the replay is ignored
