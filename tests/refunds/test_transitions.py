"""The RefundRequest state machine: every allowed transition (through its service, with a history
row naming the actor and an audit event) and refused ones (nothing changes)."""

from __future__ import annotations

import pytest
from django_fsm import TransitionNotAllowed

from audit.models import AuditEvent
from refunds.errors import RefundNotAllowed
from refunds.models import RefundRequest, RefundStatus
from refunds.services import refund_approve, refund_change_destination, refund_reject, refund_withdraw
from tests.refunds.factories import ask, order_for, paid, pay_by_wechat, run

pytestmark = pytest.mark.django_db


def _history(refund):
    return list(refund.history.order_by("history_id").values_list("status", "history_user_id"))


def _actions(refund):
    return list(AuditEvent.objects.filter(object_id=str(refund.pk)).order_by("seq").values_list("action", flat=True))


def test_requested_approved_processing_succeeded(customer, store, menu):
    refund = ask(customer, paid(customer, store, menu))
    assert _history(refund) == [("requested", customer.pk), ("approved", None), ("processing", None),
                                ("succeeded", None)]
    assert _actions(refund) == ["refund.requested", "refund.auto_approved", "refund.submitted", "refund.succeeded"]


def test_review_approve(customer, store, menu, hq_manager):
    refund = ask(customer, paid(customer, store, menu, noodles=6))
    run(refund_approve, actor=hq_manager, refund_id=refund.pk)
    assert _history(refund)[:3] == [("requested", customer.pk), ("pending_review", None),
                                    ("approved", hq_manager.pk)]
    assert _actions(refund)[:3] == ["refund.requested", "refund.sent_to_review", "refund.approved"]


def test_review_reject_and_withdraw(customer, store, menu, store_manager):
    order = paid(customer, store, menu, noodles=6)
    rejected = ask(customer, order)
    run(refund_reject, actor=store_manager, refund_id=rejected.pk, note="eaten")
    assert _history(rejected)[-1] == ("rejected", store_manager.pk) and _actions(rejected)[-1] == "refund.rejected"
    withdrawn = ask(customer, order)
    refund_withdraw(actor=customer, refund_id=withdrawn.pk)
    assert _history(withdrawn)[-1] == ("withdrawn", customer.pk) and _actions(withdrawn)[-1] == "refund.withdrawn"


def test_failed_then_redirected(paysim, customer, store, menu):
    order = order_for(customer, store, menu)
    pay_by_wechat(paysim, customer, order)
    paysim.configure({"refund_fail_rate": 1.0})
    refund = ask(customer, order)
    run(refund_change_destination, actor=customer, refund_id=refund.pk, destination="gift_card")
    statuses = [status for status, _user in _history(refund)]
    assert statuses == ["requested", "approved", "processing", "failed", "processing", "succeeded"]
    assert _actions(refund) == ["refund.requested", "refund.auto_approved", "refund.submitted", "refund.failed",
                                "refund.destination_changed", "refund.succeeded"]


def test_refused_transitions_change_nothing(customer, store, menu, hq_manager):
    refund = ask(customer, paid(customer, store, menu))  # succeeded
    before = (_history(refund), _actions(refund))
    for call in (
        lambda: refund_approve(actor=hq_manager, refund_id=refund.pk),
        lambda: refund_reject(actor=hq_manager, refund_id=refund.pk, note="x"),
        lambda: refund_withdraw(actor=customer, refund_id=refund.pk),
        lambda: refund_change_destination(actor=customer, refund_id=refund.pk, destination="gift_card"),
    ):
        with pytest.raises(RefundNotAllowed):
            call()
    assert (_history(refund), _actions(refund)) == before
    fresh = RefundRequest.objects.get(pk=refund.pk)
    for transition in (fresh.approve, fresh.reject, fresh.withdraw, fresh.submit, fresh.redirect, fresh.auto_approve):
        with pytest.raises(TransitionNotAllowed):
            transition(**({"reviewer": hq_manager, "note": "x"} if transition.__name__ in ("approve", "reject")
                          else {"deadline": None, "why": ""} if transition.__name__ == "send_to_review" else {}))
    assert RefundRequest.objects.get(pk=refund.pk).status == RefundStatus.SUCCEEDED


def test_the_status_cannot_be_written_directly(customer, store, menu):
    refund = ask(customer, paid(customer, store, menu))
    with pytest.raises(AttributeError):
        refund.status = RefundStatus.REQUESTED
