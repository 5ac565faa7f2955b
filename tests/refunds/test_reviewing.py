"""Review: approve, reject, withdraw, the four-eyes rule, who may review, escalation."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import sms
from accounts.models import Role
from audit.models import AuditEvent
from ordering.models import OrderStatus
from payments.models import RefundAttempt
from refunds.errors import RefundForbidden, RefundInvalid, RefundNotAllowed, RefundNotFound
from refunds.models import OrderRefundTally, RefundRequest, RefundStatus
from refunds.services import (
    refund_approve,
    refund_escalate,
    refund_reject,
    refund_submit,
    refund_withdraw,
    refunds_escalate_overdue,
)
from stores.models import StoreDishOverride
from tests.accounts.factories import UserFactory
from tests.refunds.factories import ask, cook, paid, run
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def big(customer, store, menu):
    """A 145.00 order (6 noodles, 2 dumplings) paid by gift card, with a request waiting for review."""
    order = paid(customer, store, menu, noodles=6)
    return ask(customer, order)


def test_hq_approves_and_the_refund_is_paid_out_once(big, hq_manager, menu, store):
    assert big.status == RefundStatus.PENDING_REVIEW
    sms.outbox.clear()
    refund = run(refund_approve, actor=hq_manager, refund_id=big.pk, note="ok, late", ip="198.51.100.4")
    assert refund.status == RefundStatus.SUCCEEDED and refund.reviewer == hq_manager
    assert refund.review_note == "ok, late" and refund.reviewed_at is not None
    order = refund.order
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert StoreDishOverride.objects.get(store=store, dish=menu.dumplings).stock == 10  # not cooked yet: back
    assert RefundAttempt.objects.filter(allocation__refund=refund).count() == 1
    event = AuditEvent.objects.get(action="refund.approved")
    assert event.actor_id == hq_manager.pk and event.ip == "198.51.100.4" and event.reason == "ok, late"
    assert event.amount == Decimal("145.00")
    assert len(sms.outbox) == 2  # approved, refunded
    with pytest.raises(RefundNotAllowed) as exc:
        refund_approve(actor=hq_manager, refund_id=big.pk)
    assert exc.value.code == "already_reviewed"
    assert RefundAttempt.objects.count() == 1


def test_approving_when_the_kitchen_already_started_keeps_the_stock(customer, store, menu, store_manager,
                                                                     hq_manager):
    order = paid(customer, store, menu, noodles=6)
    refund = ask(customer, order)
    cook(order, store_manager)
    refund = run(refund_approve, actor=hq_manager, refund_id=refund.pk)
    order.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.stock_released == {}
    assert order.status == OrderStatus.REFUNDED  # off the kitchen board
    assert StoreDishOverride.objects.get(store=store, dish=menu.dumplings).stock == 8


def test_reject_needs_a_note_tells_the_customer_and_frees_the_money(big, store_manager, customer, english):
    with pytest.raises(RefundInvalid) as exc:
        refund_reject(actor=store_manager, refund_id=big.pk, note="  ")
    assert exc.value.code == "note_required"
    sms.outbox.clear()
    refund = run(refund_reject, actor=store_manager, refund_id=big.pk, note="The food was collected and eaten.")
    assert refund.status == RefundStatus.REJECTED and refund.reviewer == store_manager
    assert OrderRefundTally.objects.get(order=refund.order).committed == 0
    assert len(sms.outbox) == 1 and "collected and eaten" in sms.outbox[0].text
    assert not RefundAttempt.objects.exists()
    again = ask(customer, refund.order)  # the money is free to ask for again
    assert again.status == RefundStatus.PENDING_REVIEW


def test_the_requester_never_approves_their_own_request(customer, store, menu, store_manager, hq_manager):
    order = paid(customer, store, menu, noodles=6)
    counter = ask(store_manager, order)  # staff at the counter, the customer's code
    assert counter.source == "counter" and counter.requested_by == store_manager
    assert counter.status == RefundStatus.PENDING_REVIEW
    with pytest.raises(RefundForbidden) as exc:
        refund_approve(actor=store_manager, refund_id=counter.pk)
    assert exc.value.code == "own_request"
    with pytest.raises(IntegrityError), transaction.atomic():  # and the database agrees
        RefundRequest.objects.filter(pk=counter.pk).update(reviewer=store_manager)
    assert run(refund_approve, actor=hq_manager, refund_id=counter.pk).status == RefundStatus.SUCCEEDED


def test_only_reviewers_of_the_store_may_decide(big, brand, store, other_brand, customer):
    other_store = StoreFactory(brand=brand, code="SH777")
    elsewhere = make_staff(role=Role.STORE_MANAGER, brand=brand, stores=[other_store], phone="13700000077")
    kitchen = make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[store], phone="13700000078")
    rival_hq = make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000079")
    for actor in (elsewhere, kitchen, rival_hq, customer, UserFactory(phone="13800000055")):
        with pytest.raises(RefundForbidden):
            refund_approve(actor=actor, refund_id=big.pk)
        with pytest.raises(RefundForbidden):
            refund_reject(actor=actor, refund_id=big.pk, note="no")
    big.refresh_from_db()
    assert big.status == RefundStatus.PENDING_REVIEW and not AuditEvent.objects.filter(
        action__in=["refund.approved", "refund.rejected"]).exists()
    with pytest.raises(RefundNotFound):
        refund_approve(actor=elsewhere, refund_id="nonsense")


def test_the_customer_withdraws_while_in_review_only(big, customer, hq_manager):
    stranger = UserFactory(phone="13800000066")
    with pytest.raises(RefundNotFound):
        refund_withdraw(actor=stranger, refund_id=big.pk)
    refund = refund_withdraw(actor=customer, refund_id=big.pk, ip="10.1.1.1")
    assert refund.status == RefundStatus.WITHDRAWN
    assert OrderRefundTally.objects.get(order=refund.order).committed == 0
    assert AuditEvent.objects.filter(action="refund.withdrawn", actor_id=customer.pk).count() == 1
    with pytest.raises(RefundNotAllowed) as exc:
        refund_withdraw(actor=customer, refund_id=big.pk)
    assert exc.value.code == "not_withdrawable"


def test_an_approved_refund_cannot_be_withdrawn(big, customer, hq_manager):
    # Approved, its sending not run yet (no after-commit work here): still approved.
    refund_approve(actor=hq_manager, refund_id=big.pk)
    big.refresh_from_db()
    assert big.status == RefundStatus.APPROVED
    before = (AuditEvent.objects.count(), OrderRefundTally.objects.get(order=big.order).committed)
    with pytest.raises(RefundNotAllowed) as exc:
        refund_withdraw(actor=customer, refund_id=big.pk)
    assert exc.value.code == "not_withdrawable"
    big.refresh_from_db()
    assert big.status == RefundStatus.APPROVED
    assert (AuditEvent.objects.count(), OrderRefundTally.objects.get(order=big.order).committed) == before
    # Nor once it has been paid out.
    run(refund_submit, refund_id=big.pk)
    big.refresh_from_db()
    assert big.status == RefundStatus.SUCCEEDED
    with pytest.raises(RefundNotAllowed):
        refund_withdraw(actor=customer, refund_id=big.pk)


def test_overdue_reviews_are_escalated_once_and_hq_is_told(big, hq_manager, store_manager):
    assert refunds_escalate_overdue(now=timezone.now()) == 0  # not overdue yet
    later = big.review_deadline + timedelta(minutes=1)
    sms.outbox.clear()
    run(refunds_escalate_overdue, now=later)
    big.refresh_from_db()
    assert big.escalated_at == later and not big.is_overdue  # overdue by the task's clock, not yet by ours
    assert [m.phone for m in sms.outbox] == [hq_manager.phone]
    assert big.display_number in sms.outbox[0].text
    assert refunds_escalate_overdue(now=later + timedelta(minutes=5)) == 0
    assert not refund_escalate(refund_id=big.pk, now=later)
    assert AuditEvent.objects.filter(action="refund.escalated").count() == 1
    # Still reviewable: escalation flags it, HQ decides.
    approved = run(refund_approve, actor=hq_manager, refund_id=big.pk, now=later + timedelta(minutes=6))
    assert approved.status == RefundStatus.SUCCEEDED
    assert AuditEvent.objects.get(action="refund.approved").data["overdue"] is True
