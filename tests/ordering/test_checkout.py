"""Checkout: login, the one-time form token, fulfilment modes, and domain errors as form errors."""

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from ordering.cart import SESSION_KEY
from ordering.models import Order, OrderSource, OrderStatus
from ordering.services import LineRequest
from tests.accounts.factories import UserFactory
from tests.ordering.factories import submit

pytestmark = pytest.mark.django_db


@pytest.fixture
def web(customer):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(customer)
    return client


def checkout_url(store):
    return f"/order/{store.code}/checkout/"


def add(client, store, dish, quantity=1, options=()):
    data = {"dish": dish.pk, "quantity": quantity}
    for i, option in enumerate(options):
        data[f"options-{i + 1}"] = option.pk
    return client.post(f"/order/{store.code}/cart/add/", data, HTTP_HX_REQUEST="true")


def token_of(client, store):
    html = client.get(checkout_url(store)).content.decode()
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def place(client, store, token, **fields):
    data = {"fulfilment": "pickup", "contact_phone": "13800000001", "note": "", "token": token}
    data.update(fields)
    return client.post(checkout_url(store), data)


def form_errors(response) -> str:
    html = response.content.decode()
    match = re.search(r'<div class="form-errors" role="alert">(.*?)</div>', html, re.S)
    return match.group(1) if match else ""


def test_checkout_needs_login(store, menu):
    response = Client().get(checkout_url(store))
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/order/{store.code}/checkout/"


def test_checkout_with_an_empty_cart_goes_back_to_the_menu(web, store, menu):
    response = web.get(checkout_url(store))
    assert response.status_code == 302 and response["Location"] == f"/order/{store.code}/"
    assert Order.objects.count() == 0


def test_checkout_page_shows_summary_modes_and_prefilled_phone(web, store, menu, customer):
    store.offers_delivery, store.delivery_fee = True, Decimal("6.00")
    store.save()
    add(web, store, menu.noodles, 2, [menu.hot])
    html = web.get(checkout_url(store)).content.decode()
    assert "Pickup at the store" in html and "Delivery fee ¥6.00" in html
    assert "Dine-in" not in html  # no table bound
    assert f'value="{customer.phone}"' in html
    assert "¥40.00" in html and "¥46.00" in html  # subtotal; with delivery
    assert 'id="use-location"' in html and 'name="latitude"' in html


def test_pickup_order_is_created_with_the_right_total_and_goes_to_pay(web, store, menu, customer):
    add(web, store, menu.noodles, 1, [menu.hot])  # 18 + 2
    add(web, store, menu.dumplings, 2)  # 2 x 12.50
    add(web, store, menu.tea, 1)  # store price 5.00
    response = place(web, store, token_of(web, store), note="No coriander")
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.pk}/pay/"
    assert order.customer == customer and order.status == OrderStatus.PENDING_PAYMENT
    assert order.fulfilment == "pickup" and order.source == OrderSource.WEB
    assert order.total == Decimal("50.00") and order.note == "No coriander"
    assert order.lines.get(dish_code="noodles").options[0]["name_en"] == "Hot"
    assert f"web:{store.code}" not in web.session.get(SESSION_KEY, {})  # the cart is emptied


def test_the_same_form_token_twice_makes_one_order(web, store, menu):
    add(web, store, menu.dumplings, 2)
    token = token_of(web, store)
    first = place(web, store, token)
    second = place(web, store, token)
    order = Order.objects.get()
    assert first["Location"] == second["Location"] == f"/orders/{order.pk}/pay/"
    assert order.lines.get().quantity == 2


def test_an_old_or_forged_token_is_refused(web, store, menu, english):
    add(web, store, menu.tea, 1)
    token_of(web, store)
    response = place(web, store, "forged-token")
    assert response.status_code == 200
    assert "This checkout page had expired" in form_errors(response)
    assert Order.objects.count() == 0


def test_stock_dropping_after_add_is_a_form_error_and_no_order(web, store, menu, english):
    add(web, store, menu.dumplings, 3)
    token = token_of(web, store)
    submit(UserFactory(phone="13800000099"), store, menu, lines=[LineRequest(dish_id=menu.dumplings.pk, quantity=9)])
    response = place(web, store, token)
    assert response.status_code == 200
    assert "Dumplings (Only 1 left.)" in form_errors(response)
    assert Order.objects.count() == 1  # only the other customer's
    assert web.session[SESSION_KEY][f"web:{store.code}"]["lines"]  # the cart is kept


def test_sold_out_reported_by_the_service_is_a_form_error(web, store, menu, english, monkeypatch):
    """Stock taken between the page's check and the service's reservation: SoldOut from order_submit."""
    from stores.services import SoldOut

    def sold_out(**kwargs):
        raise SoldOut("Sold out or not enough left: Dumplings.")

    monkeypatch.setattr("ordering.views.cart.order_submit", sold_out)
    add(web, store, menu.dumplings, 1)
    response = place(web, store, token_of(web, store))
    assert "Sold out or not enough left: Dumplings." in form_errors(response)
    assert Order.objects.count() == 0


def test_closed_store_at_checkout_is_a_form_error(web, store, menu, english):
    add(web, store, menu.tea, 1)
    token = token_of(web, store)
    store.is_open = False
    store.save()
    response = place(web, store, token)
    assert "This store is not taking orders right now." in form_errors(response)
    assert Order.objects.count() == 0


def test_delivery_outside_the_radius_is_a_form_error(web, store, menu, english):
    store.offers_delivery, store.delivery_radius_km = True, Decimal("3.00")
    store.save()
    add(web, store, menu.tea, 1)
    response = place(web, store, token_of(web, store), fulfilment="delivery", address="Far away road 1",
                     latitude="31.500000", longitude="121.473700")
    errors = form_errors(response)
    assert "km away" in errors and "delivers within 3.00 km" in errors
    assert Order.objects.count() == 0


def test_delivery_needs_address_and_location(web, store, menu, english):
    store.offers_delivery = True
    store.save()
    add(web, store, menu.tea, 1)
    response = place(web, store, token_of(web, store), fulfilment="delivery", address="")
    html = response.content.decode()
    assert "Enter a delivery address." in html and "Use my location" in html
    assert Order.objects.count() == 0


def test_delivery_inside_the_radius_adds_the_fee(web, store, menu):
    store.offers_delivery, store.delivery_fee = True, Decimal("6.00")
    store.save()
    add(web, store, menu.tea, 2)
    response = place(web, store, token_of(web, store), fulfilment="delivery", address="Nanjing East Rd 2",
                     latitude="31.231000", longitude="121.474000")
    order = Order.objects.get()
    assert response["Location"] == f"/orders/{order.pk}/pay/"
    assert order.total == Decimal("16.00") and order.delivery_fee == Decimal("6.00")
    assert order.delivery_address == "Nanjing East Rd 2"


def test_a_mode_the_store_does_not_offer_is_refused(web, store, menu):
    add(web, store, menu.tea, 1)
    response = place(web, store, token_of(web, store), fulfilment="delivery", address="x",
                     latitude="31.23", longitude="121.47")
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    response = place(web, store, token_of(web, store), fulfilment="dine_in")  # no table bound
    assert "errorlist" in response.content.decode()
    assert Order.objects.count() == 0


def test_dine_in_by_table_qr_creates_an_order_for_the_table(web, store, menu):
    web.get(f"/t/{store.code}/A1/")
    add(web, store, menu.noodles, 1, [menu.mild])
    html = web.get(checkout_url(store)).content.decode()
    assert "Dine-in at table A1" in html
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    response = place(web, store, token, fulfilment="dine_in")
    order = Order.objects.get()
    assert response["Location"] == f"/orders/{order.pk}/pay/"
    assert order.table_code == "A1" and order.fulfilment == "dine_in" and order.source == OrderSource.TABLE
    assert order.total == Decimal("18.00")


def test_frozen_account_gets_a_form_error(web, store, menu, customer, english):
    customer.is_frozen, customer.frozen_at = True, timezone.now()
    customer.save()
    add(web, store, menu.tea, 1)
    response = place(web, store, token_of(web, store))
    assert "Your account is frozen" in form_errors(response)
    assert Order.objects.count() == 0


def test_invalid_phone_and_long_note_are_form_errors(web, store, menu):
    add(web, store, menu.tea, 1)
    token = token_of(web, store)
    response = place(web, store, token, contact_phone="call me", note="x" * 201)
    assert response.content.decode().count('class="errorlist') >= 2
    assert Order.objects.count() == 0
