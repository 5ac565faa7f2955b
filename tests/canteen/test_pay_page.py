"""The pay page of a member at a canteen store: the subsidy first, up to the per-meal cap, the rest
by gift card in the same checkout; without the subsidy on request; non-members never see it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from canteen.models import SubsidyWallet
from canteen.services import subsidy_topup
from ordering.models import OrderStatus
from tests.accounts.factories import UserFactory
from tests.ordering.factories import gift_card_for, submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_the_subsidy_pays_up_to_the_cap_and_a_gift_card_the_rest(browser, member, customer, store, menu,
                                                                  canteen_staff):
    subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="100")
    order = submit(customer, store, menu)  # 45.00; the cap is 20.00
    card = gift_card_for(customer, store.brand, "100.00")
    browser.force_login(customer)
    url = reverse("payments:order-pay", args=[order.pk])
    page = browser.get(url).content.decode()
    assert "¥20.00 is paid from it; choose how to pay the other ¥25.00." in page
    assert "Pay ¥20.00 with Meal subsidy and ¥25.00 with this card" in page
    response = browser.post(url, {"channel": "gift_card", "card": str(card.pk), "split": "meal_subsidy"})
    assert response.status_code == 302
    order.refresh_from_db()
    card.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert SubsidyWallet.objects.get(pk=member.pk).balance == Decimal("80.00")
    assert card.balance == Decimal("75.00")
    assert sorted(order.payments.values_list("channel", "amount")) == [("gift_card", Decimal("25.00")),
                                                                       ("meal_subsidy", Decimal("20.00"))]


def test_without_the_subsidy_on_request(browser, member, customer, store, menu, canteen_staff):
    subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="100")
    order = submit(customer, store, menu)
    card = gift_card_for(customer, store.brand, "100.00")
    browser.force_login(customer)
    url = reverse("payments:order-pay", args=[order.pk])
    assert "is paid from it" not in browser.get(url, {"split": "no"}).content.decode()
    browser.post(url, {"channel": "gift_card", "card": str(card.pk)})
    card.refresh_from_db()
    assert card.balance == Decimal("55.00")
    assert SubsidyWallet.objects.get(pk=member.pk).balance == Decimal("100.00")


def test_a_small_order_is_paid_by_the_subsidy_alone(browser, member, customer, store, menu, canteen_staff):
    from ordering.services import LineRequest
    subsidy_topup(actor=canteen_staff, member_id=member.pk, amount="100")
    order = submit(customer, store, menu, lines=[LineRequest(dish_id=menu.tea.pk, quantity=2)])  # 10.00
    browser.force_login(customer)
    url = reverse("payments:order-pay", args=[order.pk])
    assert "Pay ¥10.00 with Meal subsidy" in browser.get(url).content.decode()
    browser.post(url, {"channel": "meal_subsidy", "split": "meal_subsidy"})
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert SubsidyWallet.objects.get(pk=member.pk).balance == Decimal("90.00")


def test_a_non_member_never_sees_the_subsidy(browser, organisation, store, menu):
    stranger = UserFactory(phone="13900000055")
    order = submit(stranger, store, menu)
    browser.force_login(stranger)
    page = browser.get(reverse("payments:order-pay", args=[order.pk])).content.decode()
    assert "Meal subsidy" not in page
    response = browser.post(reverse("payments:order-pay", args=[order.pk]), {"channel": "meal_subsidy"})
    assert response.status_code == 200
    assert not order.payments.exists()
