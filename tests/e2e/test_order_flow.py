"""The whole path in a real browser: order, pay by gift card, cook, redeem, see it completed."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts import sms
from accounts.models import Role
from ordering.models import Order, OrderStatus
from payments.models import GiftCard
from tests.ordering.factories import Menu, gift_card_for
from tests.stores.factories import make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STAFF_PASSWORD = "kitchen-Pass-2026"


def _login_code(phone: str) -> str:
    """The code of the last SMS to ``phone`` (the test settings keep SMS in ``sms.outbox``)."""
    sent = [message.text for message in sms.outbox if message.phone == phone]
    assert sent, f"no login code was sent to {phone}"
    return re.search(r"\d{6}", sent[-1]).group(0)


@pytest.fixture
def new_page(browser, browser_context_args):
    contexts = []

    def make():
        context = browser.new_context(**browser_context_args)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def test_customer_orders_pays_kitchen_cooks_staff_redeems(live_server, new_page, store, customer):
    Menu(store)
    card = gift_card_for(customer, store.brand, "500.00")
    cook = make_staff(role=Role.KITCHEN_STAFF, brand=store.brand, stores=[store], phone="13900000003")
    cook.set_password(STAFF_PASSWORD)
    cook.save()

    # The customer logs in with an SMS code and lands back on the store's ordering menu.
    shopper = new_page()
    shopper.goto(f"{live_server.url}/accounts/login/?next=/order/{store.code}/")
    shopper.fill("#id_phone", customer.phone)
    shopper.click("button[value=send]")
    # The answer is swapped in once the code is sent (sending happens when its request commits).
    expect(shopper.locator("#code-status")).not_to_be_empty()
    shopper.fill("#id_code", _login_code(customer.phone))
    shopper.click("button[value=login]")
    expect(shopper).to_have_url(re.compile(rf"/order/{store.code}/$"))

    # Two dishes for pickup.
    shopper.locator("#dish-dumplings .add-button").click()
    expect(shopper.locator("#cart-panel")).to_contain_text("Dumplings")
    shopper.locator("#dish-tea .add-button").click()
    expect(shopper.locator("#cart-panel")).to_contain_text("Tea")
    shopper.locator("#cart-panel a.checkout-button").first.click()
    expect(shopper).to_have_url(re.compile(r"/checkout/$"))
    shopper.check("input[name=fulfilment][value=pickup]")
    shopper.click("button.place-order")

    # Pay with the bound gift card; the order page shows the pickup code.
    expect(shopper).to_have_url(re.compile(r"/orders/[0-9a-f-]+/pay/$"))
    shopper.locator("form.pay-form button.pay-submit").first.click()
    expect(shopper).to_have_url(re.compile(r"/orders/[0-9a-f-]+/$"))
    pickup_code = shopper.locator(".pickup-code").inner_text().strip()
    assert re.fullmatch(r"\d{6}", pickup_code)
    order = Order.objects.get(customer=customer)
    assert order.status == OrderStatus.PAID and order.pickup_code == pickup_code
    assert order.total == Decimal("17.50")  # dumplings 12.50 + tea at the store price 5.00
    card.refresh_from_db()
    assert card.balance == Decimal("482.50")

    # The kitchen sees the ticket appear and bumps it to ready.
    kitchen = new_page()
    kitchen.goto(f"{live_server.url}/admin/login/?next=/kitchen/{store.code}/")
    kitchen.fill("#id_username", cook.phone)
    kitchen.fill("#id_password", STAFF_PASSWORD)
    kitchen.click("input[type=submit], button[type=submit]")
    expect(kitchen).to_have_url(re.compile(rf"/kitchen/{store.code}/$"))
    ticket = kitchen.locator(f"#ticket-{order.pk}")
    expect(ticket).to_contain_text(order.display_number)
    expect(ticket).to_contain_text("Dumplings")
    expect(kitchen.locator(f"[data-lane=new] #ticket-{order.pk}")).to_be_visible()
    ticket.locator("button.btn-start").click()
    preparing = kitchen.locator(f"[data-lane=preparing] #ticket-{order.pk}")
    expect(preparing).to_be_visible()
    preparing.locator("button.btn-ready").click()
    expect(kitchen.locator(f"[data-lane=ready] #ticket-{order.pk}")).to_be_visible()
    order.refresh_from_db()
    assert order.status == OrderStatus.READY

    # Staff redeem the code at the counter.
    kitchen.goto(f"{live_server.url}/kitchen/{store.code}/counter/")
    kitchen.fill("#pickup-code", pickup_code)
    kitchen.locator("#redeem-form button[type=submit]").click()
    expect(kitchen.locator("#redeem-result")).to_contain_text(order.display_number)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED

    # The customer's page shows completed without a reload (it polls every 3 s).
    expect(shopper.locator(".status-title")).to_have_text("Completed", timeout=10_000)
    assert GiftCard.objects.get(pk=card.pk).balance == Decimal("482.50")
