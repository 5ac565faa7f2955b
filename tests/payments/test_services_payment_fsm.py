"""The Payment state machine on the model: every allowed transition, refused ones, protected status."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_fsm import TransitionNotAllowed

from payments.models import Payment, PaymentStatus
from tests.ordering.factories import Menu, submit

pytestmark = pytest.mark.django_db

S = PaymentStatus


@pytest.fixture
def payment(customer, store):
    order = submit(customer, store, Menu(store))
    payment = Payment(brand=store.brand, order=order, channel="counter", amount=Decimal("45.00"))
    payment.save(force_insert=True)
    return payment


def _to(payment, path):
    for step in path:
        {
            "start": lambda: payment.start(),
            "succeed": lambda: payment.succeed(provider_trade_no="T1", payer_account="1234"),
            "fail": lambda: payment.fail(code="declined", message="no"),
            "cancel": lambda: payment.cancel(),
            "mark_unknown": lambda: payment.mark_unknown(),
            "mark_refunded": lambda: payment.mark_refunded(),
        }[step]()
    return payment


ALLOWED = [
    ([], "start", S.PENDING),
    ([], "succeed", S.SUCCEEDED),
    ([], "fail", S.FAILED),
    ([], "cancel", S.CANCELLED),
    (["start"], "succeed", S.SUCCEEDED),
    (["start"], "fail", S.FAILED),
    (["start"], "cancel", S.CANCELLED),
    (["start"], "mark_unknown", S.UNKNOWN),
    ([], "mark_unknown", S.UNKNOWN),  # the provider did not answer when the payment was opened
    (["start", "mark_unknown"], "succeed", S.SUCCEEDED),
    (["start", "mark_unknown"], "fail", S.FAILED),
    (["succeed"], "mark_refunded", S.REFUNDED),
]


@pytest.mark.parametrize("before, step, after", ALLOWED, ids=[f"{'>'.join(b) or 'created'}>{s}" for b, s, _ in ALLOWED])
def test_allowed(before, step, after, payment):
    _to(payment, before)
    _to(payment, [step])
    payment.save()
    saved = Payment.objects.get(pk=payment.pk)
    assert saved.status == after
    if after == S.SUCCEEDED:
        assert saved.succeeded_at is not None and saved.finished_at == saved.succeeded_at
        assert (saved.provider_trade_no, saved.payer_account) == ("T1", "1234")
    if after == S.FAILED:
        assert (saved.failure_code, saved.failure_message) == ("declined", "no") and saved.finished_at is not None


REFUSED = [
    (["start", "mark_unknown"], "start"),
    ([], "mark_refunded"),
    (["start"], "start"),
    (["start", "mark_unknown"], "cancel"),  # unknown is settled by query, never cancelled
    (["succeed"], "fail"),
    (["succeed"], "cancel"),
    (["succeed"], "succeed"),
    (["fail"], "succeed"),
    (["cancel"], "succeed"),
    (["succeed", "mark_refunded"], "mark_refunded"),
]


@pytest.mark.parametrize("before, step", REFUSED, ids=[f"{'>'.join(b) or 'created'}>{s}" for b, s in REFUSED])
def test_refused(before, step, payment):
    _to(payment, before)
    status = payment.status
    with pytest.raises(TransitionNotAllowed):
        _to(payment, [step])
    assert payment.status == status


def test_status_is_protected(payment):
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        payment.status = S.SUCCEEDED
    loaded = Payment.objects.get(pk=payment.pk)
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        loaded.status = S.SUCCEEDED
    assert Payment.objects.get(pk=payment.pk).status == S.CREATED


def test_history_follows_the_transitions(payment):
    payment.start()
    payment.save()
    payment.succeed()
    payment.save()
    assert [h.status for h in payment.history.order_by("history_date", "history_id")] == [
        S.CREATED, S.PENDING, S.SUCCEEDED,
    ]
