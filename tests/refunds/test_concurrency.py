"""Refunds under real concurrency: PostgreSQL, real threads, one connection each; the tasks run
(eagerly) as each transaction commits, so execution races too."""

from __future__ import annotations

from decimal import Decimal
from unittest import mock

import pytest
from django.db.models import Sum

from audit.services import audit_verify
from payments.models import GiftCard, RefundAttempt
from refunds.errors import RefundInvalid, RefundNotAllowed
from refunds.models import OrderRefundTally, RefundRequest, RefundStatus
from refunds.services import refund_approve, refund_policy_update, refund_request_create
from tests.concurrency import run_together
from tests.refunds.factories import ask, line_of, paid

pytestmark = pytest.mark.django_db(transaction=True)


def test_20_parallel_requests_on_one_order_never_refund_more_than_was_paid(customer, store, menu, hq_manager):
    refund_policy_update(actor=hq_manager, brand_id=store.brand_id, changes={"velocity_max_per_hour": 100})
    order = paid(customer, store, menu, noodles=0, dumplings=0, tea=30)  # 30 teas at 5.00 = 150.00
    tea = line_of(order, menu.tea)

    def one():
        # The SMS code is ours and tested elsewhere; one code cannot be shared by 20 requests.
        with mock.patch("refunds.services.requesting.sms_code_verify"):
            return refund_request_create(actor=customer, order_id=order.pk, reason_code="changed_plans",
                                         code="000000", lines=[{"line": tea, "quantity": 2}], ip="10.9.9.9")

    results = run_together([one] * 20)
    refused = [value for kind, value in results if kind == "error"]
    assert all(isinstance(error, RefundInvalid | RefundNotAllowed) for error in refused), refused
    made = RefundRequest.objects.filter(order=order)
    assert made.count() == 15 and len(refused) == 5
    assert set(made.values_list("status", flat=True)) == {RefundStatus.SUCCEEDED}
    assert made.aggregate(s=Sum("amount"))["s"] == Decimal("150.00")
    tally = OrderRefundTally.objects.get(order=order)
    assert tally.committed == tally.paid == Decimal("150.00")
    refunded = RefundAttempt.objects.filter(payment__order=order, status="succeeded").aggregate(s=Sum("amount"))["s"]
    assert refunded == Decimal("150.00")
    card = GiftCard.objects.get(owner=customer)
    assert card.balance == Decimal("1000.00")
    assert sum(card.entries.values_list("amount", flat=True)) == card.balance
    assert audit_verify().ok


def test_two_reviewers_approving_at_once_approve_once_and_refund_once(customer, store, menu, hq_manager,
                                                                      store_manager):
    order = paid(customer, store, menu, noodles=6)  # 145.00
    refund = ask(customer, order)
    assert refund.status == RefundStatus.PENDING_REVIEW
    results = run_together([
        lambda: refund_approve(actor=hq_manager, refund_id=refund.pk, note="hq"),
        lambda: refund_approve(actor=store_manager, refund_id=refund.pk, note="store"),
    ])
    kinds = sorted(kind for kind, _value in results)
    assert kinds == ["error", "ok"]
    error = next(value for kind, value in results if kind == "error")
    assert isinstance(error, RefundNotAllowed) and error.code == "already_reviewed"
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert RefundAttempt.objects.filter(payment__order=order).count() == 1
    card = GiftCard.objects.get(owner=customer)
    assert card.balance == Decimal("1000.00") and card.entries.filter(kind="refund").count() == 1
    assert audit_verify().ok
