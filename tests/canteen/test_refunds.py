"""Refunds of an order paid partly by the subsidy: by the allocation rule (refunds/allocation.py)
the payer's own money comes back first, the subsidy last and into the wallet at once."""

from __future__ import annotations

from decimal import Decimal

import pytest

from canteen.models import EntryKind, SubsidyEntry, SubsidyWallet
from canteen.selectors import ledger_sum
from canteen.services import subsidy_topup
from payments.services import payment_split_create
from refunds.models import RefundStatus
from tests.ordering.factories import gift_card_for, submit
from tests.payments.conftest import paysim  # noqa: F401  (the payment sandbox, in process)
from tests.refunds.factories import ask, line_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _codes_without_waiting(settings):
    from datetime import timedelta
    settings.SMS_CODE_MIN_INTERVAL = timedelta(0)


@pytest.fixture
def split_order(member, customer, store, menu, canteen_staff):
    subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="100")
    order = submit(customer, store, menu)  # 45.00: 20.00 subsidy + 25.00 gift card
    card = gift_card_for(customer, store.brand, "100.00")
    payment_split_create(actor=customer, order_id=order.pk, first_channel="meal_subsidy", first_amount="20",
                         channel="gift_card", params={"gift_card": card.pk})
    order.refresh_from_db()
    card.refresh_from_db()
    return order, card


def test_a_partial_refund_comes_from_the_gift_card_first(split_order, customer, member, menu):
    order, card = split_order
    refund = ask(customer, order, lines=[{"line": line_of(order, menu.dumplings), "quantity": 1}])  # 12.50
    assert refund.status == RefundStatus.SUCCEEDED
    card.refresh_from_db()
    assert card.balance == Decimal("87.50")
    assert SubsidyWallet.objects.get(pk=member.pk).balance == Decimal("80.00")  # subsidy untouched


def test_a_full_refund_gives_the_subsidy_back_to_the_wallet(split_order, customer, member):
    order, card = split_order
    refund = ask(customer, order)
    assert refund.status == RefundStatus.SUCCEEDED and refund.amount == Decimal("45.00")
    card.refresh_from_db()
    assert card.balance == Decimal("100.00")
    wallet = SubsidyWallet.objects.get(pk=member.pk)
    assert wallet.balance == Decimal("100.00") == ledger_sum(member)
    assert SubsidyEntry.objects.filter(wallet=wallet, kind=EntryKind.REFUND, amount=Decimal("20.00")).count() == 1
    order.refresh_from_db()
    assert order.status == "refunded"


def test_subsidy_and_wechat_partial_then_full_refund_through_the_sandbox(member, customer, store, menu,
                                                                         canteen_staff, paysim):  # noqa: F811
    """Subsidy 20.00 + WeChat Pay 25.00: one dumpling (12.50) comes back from WeChat alone; the rest
    (32.50) takes WeChat's last 12.50 and then the subsidy's 20.00, each refunded once."""
    from payments.models import Payment, RefundAttempt, RefundAttemptStatus
    from refunds.models import RefundAllocation

    subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="100")
    order = submit(customer, store, menu)  # 45.00
    results = payment_split_create(actor=customer, order_id=order.pk, first_channel="meal_subsidy",
                                   first_amount="20", channel="wechat")
    wechat = results[-1].payment
    paysim.sim_pay(wechat.out_trade_no)
    paysim.deliver_due()
    order.refresh_from_db()
    assert order.status == "paid"
    assert SubsidyWallet.objects.get(pk=member.pk).balance == Decimal("80.00")

    one = ask(customer, order, lines=[{"line": line_of(order, menu.dumplings), "quantity": 1}])
    assert one.status == RefundStatus.SUCCEEDED
    assert [(a.payment.channel, a.amount) for a in RefundAllocation.objects.filter(refund=one)] == [
        ("wechat", Decimal("12.50"))]
    rest = ask(customer, order)
    assert rest.status == RefundStatus.SUCCEEDED and rest.amount == Decimal("32.50")
    shares = sorted((a.payment.channel, a.amount) for a in RefundAllocation.objects.filter(refund=rest))
    assert shares == [("meal_subsidy", Decimal("20.00")), ("wechat", Decimal("12.50"))]
    # The sandbox refunded WeChat's 25.00 in two numbers, once each; the subsidy is back in the wallet.
    mch = "wx-sandbox-mch"
    for attempt in RefundAttempt.objects.filter(payment=wechat):
        assert attempt.status == RefundAttemptStatus.SUCCEEDED
        assert paysim.query_refund(mch, attempt.out_refund_no)["amount"] == 1250
    assert sum(row["count"] for row in paysim.summary()["merchants"][mch]["refunds"].values()) == 2
    wallet = SubsidyWallet.objects.get(pk=member.pk)
    assert wallet.balance == Decimal("100.00") == ledger_sum(member)
    assert {p.channel: p.status for p in Payment.objects.filter(order=order)} == {
        "meal_subsidy": "refunded", "wechat": "refunded"}
    order.refresh_from_db()
    assert order.status == "refunded"
