"""Refunds in a real browser: asked on the order page with the SMS code, approved at once or by
HQ in the admin, paid back through the sandbox, and sent elsewhere after a failure."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts import sms
from ordering.models import OrderStatus
from ordering.services import LineRequest
from payments.models import GiftCardEntry
from payments.services import payment_create
from payments.services.provider import payment_sync
from refunds.models import RefundRequest, RefundStatus
from tests.accounts.helpers import code_from_outbox
from tests.e2e.conftest import logged_in_page
from tests.ordering.factories import Menu, gift_card_for, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _codes_without_waiting(settings):
    from datetime import timedelta
    settings.SMS_CODE_MIN_INTERVAL = timedelta(0)


def _teas(customer, store, n):
    menu = Menu(store)
    return submit(customer, store, menu, lines=[LineRequest(dish_id=menu.tea.pk, quantity=n)])  # 5.00 each


def _pay_by_wechat(sandbox, customer, order):
    """The payer confirms at the sandbox; we ask the sandbox (as the back-off check would) rather
    than wait for its notification, so the order is paid when this returns."""
    payment = payment_create(actor=customer, order_id=order.pk, channel="wechat").payment
    sandbox.sim_pay(payment.out_trade_no)
    payment_sync(payment_id=payment.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID, order.status
    return payment


def _ask_in_browser(page, live_server, order, *, lines: dict | None = None):
    """On the order page: "ask for a refund", the portions, a reason, the SMS code, submit."""
    page.goto(f"{live_server.url}/orders/{order.pk}/")
    page.locator("a.ask-refund").click()
    for line_id, quantity in (lines or {}).items():
        page.locator(f"select[name=qty_{line_id}]").select_option(str(quantity))
    page.locator("select[name=reason_code]").select_option("changed_plans")
    sms.outbox.clear()
    page.locator("button.send-code").click()
    expect(page.locator("#code-status")).to_contain_text("A code was sent to")
    page.locator("input[name=code]").fill(code_from_outbox(order.customer.phone))
    page.locator("button.ask-button").click()


def test_a_30_cny_refund_is_approved_automatically_end_to_end(live_server, browser, browser_context_args, store,
                                                             customer):
    order = _teas(customer, store, 8)  # 40.00 by gift card; 6 teas (30.00) are refunded
    card = gift_card_for(customer, store.brand, "100.00")
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    line = order.lines.get()
    context, page = logged_in_page(browser, browser_context_args, live_server, customer)
    try:
        _ask_in_browser(page, live_server, order, lines={line.pk: 6})
        expect(page.locator(".refund-status .status-title")).to_have_text("Refunded")
        expect(page.locator(".refund-amount")).to_contain_text("30.00")
        refund = RefundRequest.objects.get(order=order)
        assert (refund.status, refund.amount, refund.decision) == (RefundStatus.SUCCEEDED, Decimal("30.00"), "auto")
        card.refresh_from_db()
        assert card.balance == Decimal("90.00")
        page.goto(f"{live_server.url}/orders/{order.pk}/")
        expect(page.locator(".order-refunds")).to_contain_text(refund.display_number)
    finally:
        context.close()


def test_a_refund_failing_at_the_sandbox_is_redirected_to_gift_card_credit(
    live_server, sandbox_server, browser, browser_context_args, store, customer
):
    order = _teas(customer, store, 6)  # 30.00
    _pay_by_wechat(sandbox_server, customer, order)
    sandbox_server.configure({"refund_fail_rate": 1.0})  # "account closed"
    context, page = logged_in_page(browser, browser_context_args, live_server, customer)
    try:
        _ask_in_browser(page, live_server, order)
        expect(page.locator(".refund-failure")).to_contain_text("The money could not be sent back")
        page.locator("input[name=destination][value=gift_card]").check()
        page.locator(".destination-form button[type=submit]").click()
        expect(page.locator(".refund-status .status-title")).to_have_text("Refunded")
        refund = RefundRequest.objects.get(order=order)
        assert refund.status == RefundStatus.SUCCEEDED
        assert GiftCardEntry.objects.filter(card__owner=customer, amount=Decimal("30.00")).count() == 1
    finally:
        context.close()


def test_a_150_cny_refund_goes_to_review_and_hq_approves_it_in_the_admin(
    live_server, sandbox_server, browser, browser_context_args, store, customer, hq_manager
):
    order = _teas(customer, store, 30)  # 150.00: above the 100 CNY limit
    _pay_by_wechat(sandbox_server, customer, order)
    context, page = logged_in_page(browser, browser_context_args, live_server, customer)
    hq_context, hq_page = logged_in_page(browser, browser_context_args, live_server, hq_manager)
    try:
        _ask_in_browser(page, live_server, order)
        expect(page.locator(".refund-status .status-title")).to_have_text("Waiting for review")
        refund = RefundRequest.objects.get(order=order)
        assert refund.status == RefundStatus.PENDING_REVIEW and refund.review_deadline is not None

        # HQ: the queue, the review screen, approve with a note.
        hq_page.goto(f"{live_server.url}/admin/refunds/refundrequest/")
        hq_page.get_by_role("link", name=refund.display_number).click()
        expect(hq_page.locator("body")).to_contain_text("150.00")
        hq_page.locator("#approve-note").fill("Checked with the store")
        hq_page.locator("#refund-approve-form input[type=submit]").click()
        expect(hq_page.locator(".messagelist")).to_be_visible()

        # The customer's page, still open, follows by itself to the end.
        expect(page.locator(".refund-status .status-title")).to_have_text("Refunded", timeout=15_000)
        refund.refresh_from_db()
        assert (refund.status, refund.reviewer) == (RefundStatus.SUCCEEDED, hq_manager)
        refunds = sandbox_server.summary()["merchants"]["wx-sandbox-mch"]["refunds"].values()
        assert sum(row["count"] for row in refunds) == 1  # paid back once at the sandbox
    finally:
        hq_context.close()
        context.close()
