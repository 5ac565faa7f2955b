"""Builders for refund tests: paid orders, and refund requests made through the services (the
SMS code is asked for and read from the in-memory outbox, as a customer would)."""

from __future__ import annotations

from decimal import Decimal

from django.test import TestCase

from ordering.services import LineRequest, order_bump, order_submit
from payments.services import gift_card_issue, payment_create
from refunds.services import refund_code_send, refund_request_create
from tests.accounts.helpers import code_from_outbox


def order_for(customer, store, menu, *, noodles=1, dumplings=2, tea=0, **kwargs):
    lines = []
    if noodles:
        lines.append(LineRequest(dish_id=menu.noodles.pk, quantity=noodles, option_ids=(menu.hot.pk,)))
    if dumplings:
        lines.append(LineRequest(dish_id=menu.dumplings.pk, quantity=dumplings))
    if tea:
        lines.append(LineRequest(dish_id=menu.tea.pk, quantity=tea))
    kwargs.setdefault("fulfilment", "pickup")
    return order_submit(actor=customer, store=store, lines=lines, **kwargs).order


def pay_by_card(customer, order, *, amount: str = "1000.00"):
    """Pay the whole order with a new gift card of the customer's; returns the card."""
    card = gift_card_issue(actor=None, brand=order.brand, amount=Decimal(amount), owner=customer)
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    order.refresh_from_db()
    card.refresh_from_db()
    return card


def paid(customer, store, menu, **kwargs):
    order = order_for(customer, store, menu, **kwargs)
    pay_by_card(customer, order)
    return order


def cook(order, staff, *, to="preparing"):
    order_bump(actor=staff, order_id=order.pk, move="start")
    if to == "ready":
        order_bump(actor=staff, order_id=order.pk, move="ready")
    order.refresh_from_db()
    return order


def send_code(actor, order, *, ip="10.0.0.1") -> str:
    """Ask for the refund code (its SMS goes out on commit) and read it from the outbox."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund_code_send(actor=actor, order_id=order.pk, ip=ip)
    return code_from_outbox(order.customer.phone)


def ask(actor, order, *, lines=None, reason_code="changed_plans", reason_text="", ip="10.0.0.1", code=None,
        execute=True, **kwargs):
    """Ask for a refund as ``actor`` (the customer, or staff at the counter) with a fresh code.
    ``execute``: run what the request does after commit (send it, pay it out, the SMS), as the
    task queue would; do not call this inside another ``captureOnCommitCallbacks``."""
    if code is None:
        code = send_code(actor, order, ip=ip)
    with TestCase.captureOnCommitCallbacks(execute=execute):
        refund = refund_request_create(actor=actor, order_id=order.pk, lines=lines, reason_code=reason_code,
                                       reason_text=reason_text, code=code, ip=ip, **kwargs)
    refund.refresh_from_db()
    return refund


def run(service, **kwargs):
    """Call a refund service and run its after-commit work (tasks, SMS), as the queue would."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        result = service(**kwargs)
    if hasattr(result, "refresh_from_db"):
        result.refresh_from_db()
    return result


def line_of(order, dish) -> int:
    return order.lines.get(dish=dish).pk


def pay_by_wechat(paysim, customer, order, *, channel="wechat"):
    """Pay through the sandbox: the payer confirms, its notification reaches the site."""
    from payments.services import payment_create as create

    payment = create(actor=customer, order_id=order.pk, channel=channel).payment
    paysim.sim_pay(payment.out_trade_no)
    paysim.deliver_due()
    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == "paid", order.status
    return payment
