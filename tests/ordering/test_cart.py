"""The ordering menu and the session cart: adding with options, prices from the menu, refusals,
HTMX partials, carts per store, and table QR codes."""

import re
from decimal import Decimal

import pytest
from django.test import Client

from ordering.cart import SESSION_KEY
from stores.models import DiningTable
from stores.services import override_set
from tests.stores.factories import DishFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def web():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def menu_url(store):
    return f"/order/{store.code}/"


def add(client, store, dish, quantity=1, options=(), htmx=False, **extra):
    data = {"dish": dish.pk if hasattr(dish, "pk") else dish, "quantity": quantity}
    for i, option in enumerate(options):
        data[f"options-{i + 1}"] = option.pk if hasattr(option, "pk") else option
    data.update(extra)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(f"/order/{store.code}/cart/add/", data, **headers)


def cart_lines(client, store, kind="web"):
    return client.session.get(SESSION_KEY, {}).get(f"{kind}:{store.code}", {}).get("lines", [])


def test_menu_page_offers_options_quantity_and_marks_required(web, store, menu, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        response = web.get(menu_url(store))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Beef noodles" in html and "¥18.00" in html
    # a single-choice required group: radios, marked required, "+¥2.00" for hot
    assert f'type="radio" name="options-1" value="{menu.hot.pk}"' in html
    assert "required</span>" in html and "+¥2.00" in html
    assert 'name="quantity" value="1" min="1" max="99"' in html
    # the switched-off soup has no add form
    soup = html[html.index('id="dish-soup"'):]
    soup = soup[: soup.index("</li>\n")] if "</li>\n" in soup else soup
    assert "Sold out" in soup and f'name="dish" value="{menu.soup.pk}"' not in html


def test_menu_page_query_count_does_not_grow_with_the_cart_or_the_menu(
    web, store, menu, django_assert_max_num_queries
):
    add(web, store, menu.noodles, 1, [menu.hot], htmx=True)
    with django_assert_max_num_queries(10) as small:
        web.get(menu_url(store))
    add(web, store, menu.dumplings, 2, htmx=True)
    add(web, store, menu.tea, 3, htmx=True)
    for i in range(20):
        DishFactory(brand=store.brand, category=menu.noodles.category, code=f"extra{i}").option_groups.add(menu.spice)
    with django_assert_max_num_queries(10) as full:
        response = web.get(menu_url(store))
    html = response.content.decode()
    assert html.count('<li class="cart-line') == 3 and html.count('class="card dish order-dish') == 24
    assert len(full.captured_queries) == len(small.captured_queries)


def test_add_with_option_delta_prices_the_line(web, store, menu):
    response = add(web, store, menu.noodles, 2, [menu.hot], htmx=True)
    html = response.content.decode()
    assert "Added Beef noodles." in html
    assert "¥20.00 each" in html and "¥40.00" in html
    assert cart_lines(web, store) == [{"dish": menu.noodles.pk, "options": [menu.hot.pk], "qty": 2}]


def test_the_cart_keeps_no_prices_and_recomputes_them_from_the_menu(web, store, menu, hq_manager):
    add(web, store, menu.tea, 2)
    assert "¥10.00" in web.get(menu_url(store)).content.decode()  # store price 5.00
    override_set(actor=hq_manager, store=store, dish=menu.tea, price=Decimal("7.00"))
    html = web.get(menu_url(store)).content.decode()
    assert "¥7.00 each" in html and "¥14.00" in html
    assert "price" not in str(web.session[SESSION_KEY])


def test_posted_prices_are_ignored(web, store, menu):
    add(web, store, menu.tea, 1, price="0.01", unit_price="0.01")
    html = web.get(menu_url(store)).content.decode()
    assert "¥5.00 each" in html and "¥0.01" not in html


def test_same_dish_and_options_merge_into_one_line(web, store, menu):
    add(web, store, menu.noodles, 1, [menu.hot])
    add(web, store, menu.noodles, 2, [menu.hot])
    add(web, store, menu.noodles, 1, [menu.mild])
    assert sorted(line["qty"] for line in cart_lines(web, store)) == [1, 3]


@pytest.mark.parametrize("quantity", [0, -1, 100, "abc", ""])
def test_quantity_out_of_bounds_is_refused(web, store, menu, quantity, english):
    response = add(web, store, menu.tea, quantity, htmx=True)
    assert "Choose a quantity between 1 and 99." in response.content.decode()
    assert cart_lines(web, store) == []


def test_more_than_99_of_one_line_is_refused(web, store, menu):
    add(web, store, menu.tea, 60)
    response = add(web, store, menu.tea, 40, htmx=True)
    assert "at most 99 of one dish" in response.content.decode()
    assert cart_lines(web, store)[0]["qty"] == 60


@pytest.mark.parametrize("quantity", [0, -3, 100])
def test_changing_quantity_out_of_bounds_changes_nothing(web, store, menu, quantity):
    add(web, store, menu.tea, 2)
    key = f"{menu.tea.pk}:"
    response = web.post(
        f"/order/{store.code}/cart/update/", {"line": key, "quantity": quantity}, HTTP_HX_REQUEST="true"
    )
    assert "Choose a quantity between 1 and 99." in response.content.decode()
    assert cart_lines(web, store)[0]["qty"] == 2


def test_plus_minus_and_remove(web, store, menu):
    add(web, store, menu.noodles, 1, [menu.hot])
    key = f"{menu.noodles.pk}:{menu.hot.pk}"
    web.post(f"/order/{store.code}/cart/update/", {"line": key, "quantity": 3}, HTTP_HX_REQUEST="true")
    assert cart_lines(web, store)[0]["qty"] == 3
    web.post(f"/order/{store.code}/cart/update/", {"line": key, "quantity": 2}, HTTP_HX_REQUEST="true")
    assert cart_lines(web, store)[0]["qty"] == 2
    response = web.post(f"/order/{store.code}/cart/remove/", {"line": key}, HTTP_HX_REQUEST="true")
    assert "Your cart is empty" in response.content.decode()
    assert cart_lines(web, store) == []


def test_unknown_line_is_a_clear_error(web, store, menu):
    response = web.post(f"/order/{store.code}/cart/remove/", {"line": "999:1"}, HTTP_HX_REQUEST="true")
    assert "That line is no longer in your cart." in response.content.decode()


def test_sold_out_dish_is_refused_at_add(web, store, menu):
    response = add(web, store, menu.soup, 1, htmx=True)
    assert "Sorry, Soup is sold out." in response.content.decode()
    assert cart_lines(web, store) == []


def test_more_than_the_stock_is_refused_at_add_and_at_quantity_change(web, store, menu):
    response = add(web, store, menu.dumplings, 11, htmx=True)
    assert "Only 10 of Dumplings left" in response.content.decode()
    assert cart_lines(web, store) == []
    add(web, store, menu.dumplings, 8)
    response = web.post(f"/order/{store.code}/cart/update/", {"line": f"{menu.dumplings.pk}:", "quantity": 11},
                        HTTP_HX_REQUEST="true")
    assert "Only 10 of Dumplings left" in response.content.decode()
    assert cart_lines(web, store)[0]["qty"] == 8


def test_other_brand_dish_is_refused(web, store, menu, other_brand):
    foreign = DishFactory(brand=other_brand)
    response = add(web, store, foreign, 1, htmx=True)
    assert "That dish is not on this store&#x27;s menu." in response.content.decode()
    assert add(web, store, 987654321, 1, htmx=True).status_code == 200
    assert cart_lines(web, store) == []


def test_option_not_offered_and_required_choice_missing(web, store, menu):
    response = add(web, store, menu.tea, 1, [menu.hot], htmx=True)
    assert "That option is not offered with Tea." in response.content.decode()
    response = add(web, store, menu.noodles, 1, htmx=True)
    assert "Choose Spice level for Beef noodles." in response.content.decode()
    response = add(web, store, menu.noodles, 1, [menu.hot, menu.mild], htmx=True)
    assert "Choose at most 1 of Spice level" in response.content.decode()
    response = add(web, store, menu.noodles, 1, ["x1"], htmx=True)
    assert "Choose options from the list." in response.content.decode()
    assert cart_lines(web, store) == []


def test_closed_store_refuses_to_add(web, store, menu):
    store.is_open = False
    store.save()
    response = add(web, store, menu.tea, 1, htmx=True)
    assert "This store is not taking orders right now." in response.content.decode()
    assert cart_lines(web, store) == []
    assert 'class="add-button" disabled' in web.get(menu_url(store)).content.decode()


def test_htmx_request_gets_the_cart_partial_only(web, store, menu):
    response = add(web, store, menu.tea, 1, htmx=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="cart-panel"') and "<html" not in html and "topbar" not in html


def test_without_javascript_the_form_posts_and_redirects_with_the_message(web, store, menu):
    response = add(web, store, menu.tea, 1)
    assert response.status_code == 302 and response["Location"] == f"/order/{store.code}/#cart"
    html = web.get(response["Location"]).content.decode()
    assert "Added Tea." in html and "cart-line" in html
    assert "Added Tea." not in web.get(menu_url(store)).content.decode()  # shown once


def test_a_customer_has_one_cart_per_store(web, store, menu, brand):
    second = StoreFactory(brand=brand, code="SH002")
    add(web, store, menu.tea, 1)
    add(web, second, menu.dumplings, 2)
    assert [line["dish"] for line in cart_lines(web, store)] == [menu.tea.pk]
    assert [line["dish"] for line in cart_lines(web, second)] == [menu.dumplings.pk]


def test_unknown_store_is_404(web, db):
    assert web.get("/order/NOPE/").status_code == 404
    assert web.post("/order/NOPE/cart/add/", {"dish": 1, "quantity": 1}).status_code == 404


def test_cart_actions_refuse_get(web, store, menu):
    assert web.get(f"/order/{store.code}/cart/add/").status_code == 405


def test_table_qr_binds_the_cart_and_shows_the_banner(web, store, menu):
    response = web.get(f"/t/{store.code}/A1/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Table A1" in html and "Beef noodles" in html
    assert web.session[SESSION_KEY][f"web:{store.code}"]["table"] == "A1"
    add(web, store, menu.tea, 1)
    assert "Table A1" in web.get(menu_url(store)).content.decode()  # the binding stays with the cart


def test_leaving_the_table_unbinds_the_cart(web, store, menu):
    web.get(f"/t/{store.code}/A1/")
    add(web, store, menu.tea, 1)
    web.post(f"/order/{store.code}/table/leave/")
    data = web.session[SESSION_KEY][f"web:{store.code}"]
    assert data["table"] == "" and len(data["lines"]) == 1


def test_unknown_or_inactive_table_is_a_404_with_a_clear_message(web, store, menu):
    response = web.get(f"/t/{store.code}/Z9/")
    assert response.status_code == 404
    assert "has no table “Z9”" in response.content.decode()
    DiningTable.objects.filter(pk=menu.table.pk).update(is_active=False)
    assert web.get(f"/t/{store.code}/A1/").status_code == 404
    assert web.get(f"/t/{store.code}/{'A1' + 'x' * 20}/").status_code == 404
    assert SESSION_KEY not in web.session


def test_menu_page_is_chinese_by_default(client, store, menu):
    html = client.get(menu_url(store)).content.decode()
    assert "牛肉面" in html and re.search(r"<html lang=\"zh-hans\"", html)


def test_store_page_links_to_the_ordering_menu(web, store, menu):
    html = web.get(f"/stores/{store.code}/").content.decode()
    assert f'href="/order/{store.code}/"' in html

