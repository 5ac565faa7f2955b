"""The store kiosk: no login, its own cart, orders with no customer, and the end screen."""

import re
from decimal import Decimal

import pytest
import segno
from django.core import signing
from django.test import Client

from accounts.models import Role
from ordering.cart import SESSION_KEY
from ordering.models import Order, OrderSource, OrderStatus
from ordering.views.kiosk import KIOSK_COOKIE, KIOSK_COOKIE_SALT
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db


def enrol(client, store):
    """What the setup page leaves on the tablet: the store's signed kiosk cookie."""
    signer = signing.get_cookie_signer(salt=KIOSK_COOKIE + KIOSK_COOKIE_SALT)
    client.cookies[KIOSK_COOKIE] = signer.sign(store.code)
    return client


@pytest.fixture
def kiosk(store):
    return enrol(Client(HTTP_ACCEPT_LANGUAGE="en"), store)


def add(client, store, dish, quantity=1, options=()):
    data = {"dish": dish.pk, "quantity": quantity}
    for i, option in enumerate(options):
        data[f"options-{i + 1}"] = option.pk
    return client.post(f"/kiosk/{store.code}/cart/add/", data, HTTP_HX_REQUEST="true")


def token_of(client, store):
    html = client.get(f"/kiosk/{store.code}/checkout/").content.decode()
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def test_kiosk_menu_has_tabs_and_no_site_navigation(kiosk, store, menu):
    response = kiosk.get(f"/kiosk/{store.code}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="kiosk"' in html and 'class="kiosk-tab"' in html and "Beef noodles" in html
    assert "topbar" not in html and "/accounts/login/" not in html and "Log in" not in html
    assert f'hx-post="/kiosk/{store.code}/cart/add/"' in html


def test_kiosk_cart_is_apart_from_the_web_cart(kiosk, store, menu):
    add(kiosk, store, menu.tea, 2)
    carts = kiosk.session[SESSION_KEY]
    assert carts[f"kiosk:{store.code}"]["lines"][0]["qty"] == 2
    assert f"web:{store.code}" not in carts
    assert "<li class=\"cart-line" not in kiosk.get(f"/order/{store.code}/").content.decode()


def test_kiosk_order_has_no_customer_and_shows_the_number_amount_and_qr(kiosk, store, menu):
    add(kiosk, store, menu.noodles, 1, [menu.hot])
    add(kiosk, store, menu.tea, 1)
    response = kiosk.post(f"/kiosk/{store.code}/checkout/", {"dining": "here", "token": token_of(kiosk, store)})
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/kiosk/{store.code}/done/{order.pk}/"
    assert order.customer is None and order.source == OrderSource.KIOSK and order.fulfilment == "pickup"
    assert order.total == Decimal("25.00") and order.status == OrderStatus.PENDING_PAYMENT
    assert order.note == "Eat here"

    html = kiosk.get(response["Location"]).content.decode()
    assert f'<p class="kiosk-number">{order.display_number}</p>' in html
    assert "¥25.00" in html and "Pay at the counter" in html
    assert segno.make(f"http://testserver/orders/{order.pk}/pay/").svg_inline(scale=6) in html
    assert f'http-equiv="refresh" content="60;url=/kiosk/{store.code}/"' in html
    assert "topbar" not in html
    assert f"kiosk:{store.code}" not in kiosk.session.get(SESSION_KEY, {})  # the cart is emptied


def test_kiosk_double_submit_makes_one_order(kiosk, store, menu):
    add(kiosk, store, menu.tea, 1)
    token = token_of(kiosk, store)
    first = kiosk.post(f"/kiosk/{store.code}/checkout/", {"dining": "away", "token": token})
    second = kiosk.post(f"/kiosk/{store.code}/checkout/", {"dining": "away", "token": token})
    order = Order.objects.get()
    assert first["Location"] == second["Location"] == f"/kiosk/{store.code}/done/{order.pk}/"
    assert order.note == "Take away"


def test_kiosk_needs_a_dining_choice_and_reports_sold_out(kiosk, store, menu, english):
    add(kiosk, store, menu.dumplings, 2)
    token = token_of(kiosk, store)
    response = kiosk.post(f"/kiosk/{store.code}/checkout/", {"token": token})
    assert "Choose “Eat here” or “Take away”." in response.content.decode()
    menu.dumplings_stock.stock = 1
    menu.dumplings_stock.save()
    response = kiosk.post(f"/kiosk/{store.code}/checkout/", {"dining": "here", "token": token})
    assert "Dumplings (Only 1 left.)" in response.content.decode()
    assert Order.objects.count() == 0


def test_kiosk_end_screen_is_only_for_the_kiosk_that_ordered(kiosk, store, menu):
    add(kiosk, store, menu.tea, 1)
    response = kiosk.post(f"/kiosk/{store.code}/checkout/", {"dining": "here", "token": token_of(kiosk, store)})
    assert enrol(Client(), store).get(response["Location"]).status_code == 404  # another session
    assert kiosk.get(response["Location"]).status_code == 200


def test_kiosk_checkout_with_an_empty_cart_returns_to_the_menu(kiosk, store, menu):
    response = kiosk.get(f"/kiosk/{store.code}/checkout/")
    assert response.status_code == 302 and response["Location"] == f"/kiosk/{store.code}/"


def test_a_browser_that_is_not_the_stores_kiosk_cannot_order(store, menu, english):
    stranger = Client(HTTP_ACCEPT_LANGUAGE="en")
    page = stranger.get(f"/kiosk/{store.code}/")
    assert page.status_code == 403
    assert "not set up as this store" in page.content.decode()
    assert add(stranger, store, menu.tea).status_code == 403
    other = StoreFactory(brand=store.brand, code="SH002")
    assert enrol(Client(), other).get(f"/kiosk/{store.code}/").status_code == 403  # another store's kiosk
    assert Order.objects.count() == 0


def test_staff_of_the_store_enrol_and_remove_the_kiosk(client, store, menu, english):
    manager = make_staff(role=Role.STORE_MANAGER, brand=store.brand, stores=[store])
    assert client.get(f"/kiosk/{store.code}/setup/").status_code == 302  # staff login first
    client.force_login(manager)
    assert client.get(f"/kiosk/{store.code}/setup/").status_code == 200
    response = client.post(f"/kiosk/{store.code}/setup/", {"action": "enrol"})
    assert response.status_code == 302 and response.url == f"/kiosk/{store.code}/"
    cookie = client.cookies[KIOSK_COOKIE].value
    tablet = Client()  # the manager logged out: only the kiosk cookie is left on the tablet
    tablet.cookies[KIOSK_COOKIE] = cookie
    assert tablet.get(f"/kiosk/{store.code}/").status_code == 200
    client.post(f"/kiosk/{store.code}/setup/", {"action": "remove"})
    assert client.cookies[KIOSK_COOKIE].value == ""
    assert client.get(f"/kiosk/{store.code}/").status_code == 403


def test_customers_cannot_enrol_a_kiosk(client, store, customer):
    client.force_login(customer)
    assert client.post(f"/kiosk/{store.code}/setup/", {"action": "enrol"}).status_code == 403
    assert KIOSK_COOKIE not in client.cookies or not client.cookies[KIOSK_COOKIE].value
