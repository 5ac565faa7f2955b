"""A canteen in a real browser: canteen staff top up a member; the member orders at a canteen
store, pays partly by meal subsidy and partly by gift card, and sees the new balance."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from canteen.models import SubsidyWallet
from ordering.models import Order, OrderStatus
from tests.canteen.factories import canteen_staff_of, member_of, organisation_for
from tests.e2e.conftest import logged_in_page
from tests.ordering.factories import Menu, gift_card_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STAFF_PASSWORD = "canteen-Pass-2026"


def test_staff_top_up_then_the_member_pays_part_by_subsidy(live_server, browser, browser_context_args, store,
                                                           customer):
    Menu(store)
    staff = canteen_staff_of(store)
    staff.set_password(STAFF_PASSWORD)
    staff.save()
    organisation = organisation_for(store, staff=[staff], cap="20.00")
    member = member_of(organisation, user=customer, number="S2026001", name="王同学")
    card = gift_card_for(customer, store.brand, "100.00")

    staff_context = browser.new_context(**browser_context_args)
    staff_context.set_default_timeout(10_000)
    member_context = None
    try:
        # Canteen staff: log in, find the member, top up 50.
        desk = staff_context.new_page()
        desk.goto(f"{live_server.url}/admin/login/?next=/canteen/staff/")
        desk.fill("#id_username", staff.phone)
        desk.fill("#id_password", STAFF_PASSWORD)
        desk.click("input[type=submit], button[type=submit]")
        expect(desk).to_have_url(re.compile(rf"/canteen/staff/{organisation.pk}/$"))
        desk.fill("input[name=q]", "S2026001")
        desk.keyboard.press("Enter")
        desk.get_by_role("link", name="S2026001").click()
        desk.fill("input[name=amount]", "50")
        desk.fill("input[name=note]", "十二月补贴")
        desk.locator("button[type=submit].btn-primary").click()
        expect(desk.locator("[data-balance]")).to_contain_text("50.00")
        assert SubsidyWallet.objects.get(pk=member.pk).balance == Decimal("50.00")

        # The member orders two dumplings and a tea (30.00) for pickup.
        member_context, shop = logged_in_page(browser, browser_context_args, live_server, customer)
        shop.goto(f"{live_server.url}/order/{store.code}/")
        shop.locator("#dish-dumplings .add-button").click()
        expect(shop.locator("#cart-panel")).to_contain_text("Dumplings")
        shop.locator("#dish-dumplings .add-button").click()
        shop.locator("#dish-tea .add-button").click()
        expect(shop.locator("#cart-panel")).to_contain_text("Tea")
        shop.locator("#cart-panel a.checkout-button").first.click()
        shop.check("input[name=fulfilment][value=pickup]")
        shop.click("button.place-order")

        # The pay page offers the subsidy first (20.00, the cap per meal), the rest by gift card.
        expect(shop).to_have_url(re.compile(r"/orders/[0-9a-f-]+/pay/$"))
        expect(shop.locator(".split-offer")).to_contain_text("20.00")
        shop.locator("form.pay-form", has=shop.locator("input[value=gift_card]")).locator("button.pay-submit").click()
        expect(shop).to_have_url(re.compile(r"/orders/[0-9a-f-]+/$"))
        expect(shop.locator(".status-title")).to_have_text("Paid")
        order = Order.objects.get(customer=customer)
        assert order.status == OrderStatus.PAID and order.total == Decimal("30.00")
        assert sorted(order.payments.values_list("channel", "amount")) == [
            ("gift_card", Decimal("10.00")), ("meal_subsidy", Decimal("20.00"))]
        card.refresh_from_db()
        assert card.balance == Decimal("90.00")

        # The member's canteen page shows the new balance.
        shop.goto(f"{live_server.url}/canteen/me/")
        expect(shop.locator("body")).to_contain_text("30.00")
        assert SubsidyWallet.objects.get(pk=member.pk).balance == Decimal("30.00")
    finally:
        staff_context.close()
        if member_context is not None:
            member_context.close()
