"""``Store.payment_channels``: which ways of paying a store offers (none ticked means all). The
pay page offers only those, and paying with another one is refused, on the page and in the API."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from ordering.models import OrderStatus
from payments.gateways import registry
from payments.models import Payment
from stores.models import CUSTOMER_PAYMENT_CHANNELS
from tests.ordering.factories import gift_card_for, submit

pytestmark = pytest.mark.django_db


def _enable(store, channels: list[str]):
    store.payment_channels = channels
    store.save(update_fields=["payment_channels"])
    return store


@pytest.fixture
def order(customer, store, menu):
    return submit(customer, store, menu)  # 45.00


@pytest.fixture
def en_client(client, customer):
    client.force_login(customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def _pay_url(order) -> str:
    return reverse("payments:order-pay", kwargs={"order_id": order.pk})


CHANNELS = ["gift_card", "wechat", "alipay", "corporate"]  # meal_subsidy comes with the canteen app


def test_the_store_field_lists_the_channels_that_have_an_adapter():
    assert set(CHANNELS) <= {channel for channel, _label in CUSTOMER_PAYMENT_CHANNELS}
    assert set(CHANNELS) <= set(registry.channels())


def test_none_ticked_means_every_channel_and_a_list_means_only_those(store):
    assert store.payment_channels == []
    assert all(registry.get(channel).enabled_at(store) for channel in CHANNELS)
    _enable(store, ["wechat", "gift_card"])
    enabled = {channel for channel in CHANNELS if registry.get(channel).enabled_at(store)}
    assert enabled == {"wechat", "gift_card"}
    assert registry.get("counter").enabled_at(store)  # staff at the counter can always take payment


def test_the_customer_is_offered_only_the_enabled_channels(customer, store, order):
    assert {g.channel for g in registry.for_customer(order=order, user=customer)} >= {"gift_card", "wechat", "alipay"}
    _enable(store, ["alipay"])
    order.refresh_from_db()
    assert [g.channel for g in registry.for_customer(order=order, user=customer)] == ["alipay"]


def test_the_pay_page_offers_only_the_enabled_channels(en_client, customer, store, order, brand):
    gift_card_for(customer, brand, "100.00")
    html = en_client.get(_pay_url(order)).content.decode()
    assert "Pay with WeChat Pay" in html and "Pay with Alipay" in html and "Pay with a gift card" in html
    _enable(store, ["alipay"])
    html = en_client.get(_pay_url(order)).content.decode()
    assert "Pay with Alipay" in html
    assert "Pay with WeChat Pay" not in html and "Pay with a gift card" not in html
    assert 'value="wechat"' not in html and 'value="gift_card"' not in html


def test_the_pay_page_says_so_when_no_enabled_channel_is_open_to_the_customer(en_client, store, order):
    _enable(store, ["corporate"])  # only for members of a corporate account; this customer is none
    html = en_client.get(_pay_url(order)).content.decode()
    assert "No payment method is available for this order. Please pay at the counter." in html
    assert "pay-submit" not in html


def test_the_pay_page_refuses_a_channel_the_store_does_not_enable(en_client, customer, store, order, brand):
    card = gift_card_for(customer, brand, "100.00")
    _enable(store, ["wechat"])
    response = en_client.post(_pay_url(order), {"channel": "gift_card", "card": str(card.pk)})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    card.refresh_from_db()
    order.refresh_from_db()
    assert card.balance == Decimal("100.00") and order.status == OrderStatus.PENDING_PAYMENT
    assert not Payment.objects.filter(order=order).exists()


def test_the_api_refuses_a_channel_the_store_does_not_enable(client, customer, store, order, brand):
    card = gift_card_for(customer, brand, "100.00")
    _enable(store, ["wechat", "alipay"])
    client.force_login(customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    url = f"/api/v1/orders/{order.pk}/payments/"
    response = client.post(url, {"channel": "gift_card", "gift_card": card.pk}, content_type="application/json")
    assert response.status_code == 409
    assert response.json() == {"code": "payment_not_allowed",
                               "detail": "This payment channel is not available for this order."}
    card.refresh_from_db()
    assert card.balance == Decimal("100.00") and not Payment.objects.filter(order=order).exists()
    _enable(store, ["wechat", "alipay", "gift_card"])
    paid = client.post(url, {"channel": "gift_card", "gift_card": card.pk}, content_type="application/json")
    assert paid.status_code == 201 and paid.json()["order"]["status"] == "paid"


def test_the_store_admin_ticks_the_channels_the_store_enables(client, hq_manager, store):
    _enable(store, ["alipay", "corporate"])
    client.force_login(hq_manager)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(reverse("admin:stores_store_change", args=[store.pk])).content.decode()
    ticked = set(re.findall(r'name="payment_channels" value="(\w+)" id="id_payment_channels_\d+" checked', html))
    offered = set(re.findall(r'name="payment_channels" value="(\w+)"', html))
    assert ticked == {"alipay", "corporate"}
    assert offered == {channel for channel, _label in CUSTOMER_PAYMENT_CHANNELS}
