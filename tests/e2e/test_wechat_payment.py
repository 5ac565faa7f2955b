"""Paying with WeChat Pay in a real browser: the sandbox's payer page and back to a paid order."""

import re

import pytest
from playwright.sync_api import expect

from ordering.models import OrderStatus
from payments.models import Payment, PaymentStatus
from tests.e2e.conftest import logged_in_page as _logged_in_page
from tests.ordering.factories import Menu, submit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_pay_with_wechat_through_the_payer_page_and_return_to_a_paid_order(
    live_server, sandbox_server, browser, browser_context_args, store, customer
):
    order = submit(customer, store, Menu(store))
    context, page = _logged_in_page(browser, browser_context_args, live_server, customer)
    try:
        page.goto(f"{live_server.url}/orders/{order.pk}/pay/")
        page.locator("form.pay-form", has=page.locator("input[value=wechat]")).locator("button").click()
        # The sandbox's payer page, on another origin.
        expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/pay/"))
        expect(page.locator("body")).to_contain_text("45.00")
        page.locator("button[value=confirm]").click()
        # Back on our order page, which shows it paid with its pickup code.
        expect(page).to_have_url(re.compile(rf"/orders/{order.pk}/$"))
        expect(page.locator(".status-title")).to_have_text("Paid")
        code = page.locator(".pickup-code").inner_text().strip()
        assert re.fullmatch(r"\d{6}", code)
        order.refresh_from_db()
        assert order.status == OrderStatus.PAID and order.pickup_code == code
        assert Payment.objects.get(order=order).status == PaymentStatus.SUCCEEDED
    finally:
        context.close()


def test_cancelling_at_the_payer_page_says_why_the_order_is_not_paid(
    live_server, sandbox_server, browser, browser_context_args, store, customer
):
    order = submit(customer, store, Menu(store))
    context, page = _logged_in_page(browser, browser_context_args, live_server, customer)
    try:
        page.goto(f"{live_server.url}/orders/{order.pk}/pay/")
        page.locator("form.pay-form", has=page.locator("input[value=alipay]")).locator("button").click()
        expect(page).to_have_url(re.compile(r"^http://127\.0\.0\.1:\d+/pay/"))
        page.locator("button[value=cancel]").click()
        expect(page).to_have_url(re.compile(rf"/orders/{order.pk}/pay/$"))
        expect(page.locator(".last-failed")).to_contain_text("was cancelled; nothing was charged")
        order.refresh_from_db()
        assert order.status == OrderStatus.PENDING_PAYMENT
    finally:
        context.close()
