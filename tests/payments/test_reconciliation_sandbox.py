"""Reconciliation of the ``wechat`` channel against the payment sandbox itself (in-process, over
httpx's WSGI transport): what the services record from the sandbox agrees with its statement,
and what the sandbox did behind our back shows up."""

from __future__ import annotations

import json
import secrets
from decimal import Decimal

import httpx
import pytest
from django.db import transaction

from payments.gateways.paysim import wechat
from payments.models import MismatchKind, PaymentStatus, RefundAttemptStatus, RefundOrigin
from payments.sandbox import Paysim, signed_headers
from payments.services import payment_create, reconcile_day
from payments.services.provider import payment_sync
from payments.services.reconciliation import provider_today
from payments.services.refunding import refund_attempt_create, refund_attempt_execute
from tests.payments.reconciliation_world import tea_order

pytestmark = pytest.mark.django_db
BASE_URL = "http://paysim.test/paysim"


@pytest.fixture
def paysim(tmp_path, settings, monkeypatch):
    config = settings.PAYMENT_GATEWAYS["wechat"]
    merchants = {config["mch_id"]: {"key": config["key"], "name": "WeChat Pay (sandbox)", "channel": "wechat"}}
    sim = Paysim(tmp_path / "paysim.sqlite3", merchants, {}, public_base_url=BASE_URL,
                 sender=lambda url, headers, body: 200, sleep=lambda seconds: None, notify_workers=1)
    settings.PAYMENT_GATEWAYS = {**settings.PAYMENT_GATEWAYS, "wechat": {**config, "base_url": BASE_URL}}
    monkeypatch.setattr(wechat, "transport", httpx.WSGITransport(app=sim.wsgi_app))
    sim.http = httpx.Client(transport=httpx.WSGITransport(app=sim.wsgi_app), base_url=BASE_URL)
    sim.mch_id, sim.key = config["mch_id"], config["key"]
    yield sim
    sim.http.close()
    sim.close()


def _payer_pays(sim, payment):
    response = sim.http.post(f"/_sim/pay/{payment.out_trade_no}", params={"mch": sim.mch_id})
    assert response.status_code == 200, response.text


def _stranger_capture(sim, amount_fen: int) -> str:
    """A trade paid at the provider with a number we never issued (someone else's integration)."""
    number = secrets.token_hex(16)
    body = json.dumps({"out_trade_no": number, "amount": amount_fen, "description": "??",
                       "notify_url": "http://shop.test/notify/"})
    headers = signed_headers(sim.mch_id, sim.key, "POST", "/v1/payments", body)
    assert sim.http.post("/v1/payments", content=body, headers=headers).status_code == 200
    assert sim.http.post(f"/_sim/pay/{number}", params={"mch": sim.mch_id}).status_code == 200
    return number


def test_payments_and_refunds_made_through_the_sandbox_reconcile_clean(paysim, customer, store, menu):
    paid = payment_create(actor=customer, order_id=tea_order(customer, store, menu, 3).pk, channel="wechat").payment
    assert paid.status == PaymentStatus.PENDING and paid.action_url.startswith(BASE_URL)
    _payer_pays(paysim, paid)
    paid = payment_sync(payment_id=paid.pk)
    assert paid.status == PaymentStatus.SUCCEEDED
    unpaid = payment_create(actor=customer, order_id=tea_order(customer, store, menu, 1).pk, channel="wechat").payment
    assert unpaid.status == PaymentStatus.PENDING  # never paid: in nobody's statement
    with transaction.atomic():
        attempt = refund_attempt_create(payment=paid, amount=Decimal("5.00"), origin=RefundOrigin.STAFF, reason="t")
    attempt = refund_attempt_execute(attempt_id=attempt.pk)
    assert attempt.status == RefundAttemptStatus.SUCCEEDED

    run = reconcile_day(channel="wechat", day=provider_today())

    assert (run.status, run.matched, run.mismatch_count, run.error) == ("matched", 2, 0, "")
    assert (run.captures_ours, run.captures_theirs) == (Decimal("15.00"), Decimal("15.00"))
    assert (run.refunds_ours, run.refunds_theirs) == (Decimal("5.00"), Decimal("5.00"))

    # Behind our back: a capture we never issued, and our waiting payment paid without us asking.
    stranger = _stranger_capture(paysim, 1234)
    _payer_pays(paysim, unpaid)
    again = reconcile_day(channel="wechat", day=provider_today())
    rows = sorted((m.kind, m.reference, m.amount_ours, m.amount_theirs, m.status_ours)
                  for m in again.mismatches.all())
    assert rows == sorted([
        (MismatchKind.MISSING_HERE, stranger, None, Decimal("12.34"), ""),
        (MismatchKind.STATUS_DIFFERS, unpaid.out_trade_no, Decimal("5.00"), Decimal("5.00"), "pending"),
    ])
    assert again.captures_theirs == Decimal("32.34") and again.matched == 2
    # Once our poller asks, the payment is settled and only the stranger is left.
    payment_sync(payment_id=unpaid.pk)
    third = reconcile_day(channel="wechat", day=provider_today())
    assert list(third.mismatches.values_list("kind", "reference")) == [(MismatchKind.MISSING_HERE, stranger)]
