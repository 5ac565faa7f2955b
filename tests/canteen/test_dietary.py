"""Dietary needs: the member records them on /canteen/me/; the ordering menu of a store serving the
member's organisation marks the suiting dishes, filters to them (?suits=1), and asks before an
unsuiting dish goes into the cart. Everybody else sees the menu exactly as without the canteen."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from canteen.services import member_dietary_update
from ordering import panels
from ordering.cart import SESSION_KEY
from stores.models import Allergen, Tag
from tests.accounts.factories import UserFactory
from tests.canteen.factories import member_of, organisation_for
from tests.stores.factories import StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def web():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture(autouse=True)
def vocabulary(db):
    """The tags and allergens of stores/migrations/0002 (a transactional test may have flushed them)."""
    for code, zh, en in (("vegetarian", "素食", "Vegetarian"), ("halal", "清真", "Halal"),
                         ("low_sugar", "低糖", "Low sugar"), ("low_salt", "少盐", "Low salt")):
        Tag.objects.update_or_create(code=code, defaults={"name_zh": zh, "name_en": en})
    for code, zh, en in (("peanuts", "花生", "Peanuts"), ("milk", "乳制品", "Milk")):
        Allergen.objects.update_or_create(code=code, defaults={"name_zh": zh, "name_en": en})


@pytest.fixture
def diet_menu(menu):
    """Tea suits a vegetarian with a peanut allergy; noodles are not vegetarian; dumplings are
    vegetarian but contain peanuts."""
    menu.tea.tags.set(["vegetarian", "halal"])
    menu.dumplings.tags.set(["vegetarian"])
    menu.dumplings.allergens.set(["peanuts"])
    return menu


@pytest.fixture
def vegetarian(organisation, customer):
    """The customer as a vegetarian member allergic to peanuts.

    Made by ``member_create``: ``member_dietary_update`` cannot record an allergy yet (it casts the
    allergen ids to int, and an allergen's id is its code; see test_the_member_records_allergies).
    """
    return member_of(organisation, user=customer, dietary_needs=["vegetarian"],
                     allergies=[Allergen.objects.get(pk="peanuts")])


def menu_url(store, **query):
    url = reverse("ordering:menu", args=[store.code])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def add(client, store, dish, *, quantity=1, options=(), htmx=False, **extra):
    data = {"dish": dish.pk, "quantity": quantity, **extra}
    if options:
        data["options-1"] = [option.pk for option in options]
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("ordering:cart-add", args=[store.code]), data, **headers)


def card(html: str, code: str) -> str:
    start = html.index(f'id="dish-{code}"')
    end = html.find('<li class="card dish', start)
    return html[start:end if end != -1 else len(html)]


def cart_lines(client, store):
    return client.session.get(SESSION_KEY, {}).get(f"web:{store.code}", {}).get("lines", [])


def normalised(html: str) -> str:
    """The page without its per-request CSRF tokens."""
    return re.sub(r"[A-Za-z0-9]{64}", "TOKEN", html)


# --- the menu ---------------------------------------------------------------------------------


def test_the_menu_marks_what_suits_a_member_and_names_each_conflict(web, store, diet_menu, vegetarian, customer,
                                                                     django_assert_max_num_queries):
    web.force_login(customer)
    with django_assert_max_num_queries(13):  # a logged-in customer's 10, + membership, store, allergies
        response = web.get(menu_url(store))
    html = response.content.decode()
    assert response.status_code == 200
    tea, dumplings, noodles = card(html, "tea"), card(html, "dumplings"), card(html, "noodles")
    assert "Suits your diet" in tea and "diet-warning" not in tea
    assert "Contains peanuts" in dumplings and "Not vegetarian" not in dumplings
    assert "Not vegetarian" in noodles and "Suits your diet" not in noodles
    assert "Suits me" in html and 'href="?suits=1"' in html


def test_every_need_must_be_met_and_every_allergen_avoided(web, store, diet_menu, member, customer):
    member_dietary_update(member=member, needs=["vegetarian", "halal", "low_salt"], allergy_ids=[])
    web.force_login(customer)
    html = web.get(menu_url(store)).content.decode()
    assert "Not low in salt" in card(html, "tea") and "Not halal" not in card(html, "tea")
    dumplings = card(html, "dumplings")
    assert "Not halal" in dumplings and "Not low in salt" in dumplings and "Contains peanuts" not in dumplings
    assert "Suits your diet" not in html


def test_the_suits_me_filter_keeps_only_suiting_dishes(web, store, diet_menu, vegetarian, customer):
    web.force_login(customer)
    html = web.get(menu_url(store, suits=1)).content.decode()
    assert 'id="dish-tea"' in html
    assert 'id="dish-dumplings"' not in html and 'id="dish-noodles"' not in html
    assert 'aria-pressed="true"' in html and "Showing only the dishes that suit" in html
    # the add form keeps the filter, so the redirect after adding comes back to it
    assert '<input type="hidden" name="suits" value="1">' in card(html, "tea")
    response = add(web, store, diet_menu.tea, suits="1")
    assert response.status_code == 302 and response["Location"].endswith("?suits=1#cart")


def test_the_filter_says_so_when_nothing_suits(web, store, diet_menu, member, customer):
    member_dietary_update(member=member, needs=["low_sugar"], allergy_ids=[])
    web.force_login(customer)
    html = web.get(menu_url(store, suits=1)).content.decode()
    assert "No dish on this menu suits the needs you recorded." in html
    assert 'id="dish-' not in html


def test_an_unsuiting_dish_asks_first_then_goes_in_with_confirm(web, store, diet_menu, vegetarian, customer):
    web.force_login(customer)
    response = add(web, store, diet_menu.noodles, quantity=2, options=[diet_menu.hot], htmx=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#dish-noodles" and response["HX-Reswap"] == "outerHTML"
    assert "This dish does not suit the dietary needs you recorded." in html and "Not vegetarian" in html
    assert "Add it anyway" in html
    assert '<input type="hidden" name="confirm" value="1">' in html
    assert '<input type="hidden" name="quantity" value="2">' in html
    assert f'<input type="hidden" name="options" value="{diet_menu.hot.pk}">' in html
    assert cart_lines(web, store) == []

    response = add(web, store, diet_menu.noodles, quantity=2, htmx=True, confirm="1", options=[diet_menu.hot])
    html = response.content.decode()
    assert response.status_code == 200 and "HX-Retarget" not in response
    assert "Added Beef noodles." in html
    # the dish card comes back out of band, without its confirm box
    assert 'id="dish-noodles" hx-swap-oob="true"' in html and "Add it anyway" not in html
    assert [(line["dish"], line["qty"]) for line in cart_lines(web, store)] == [(diet_menu.noodles.pk, 2)]


def test_without_javascript_the_confirm_box_is_on_the_menu_page(web, store, diet_menu, vegetarian, customer):
    web.force_login(customer)
    response = add(web, store, diet_menu.dumplings, quantity=3)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Add it anyway" in card(html, "dumplings") and "Contains peanuts" in card(html, "dumplings")
    assert "Add it anyway" not in card(html, "tea")
    assert cart_lines(web, store) == []
    response = add(web, store, diet_menu.dumplings, quantity=3, confirm="1")
    assert response.status_code == 302
    assert [(line["dish"], line["qty"]) for line in cart_lines(web, store)] == [(diet_menu.dumplings.pk, 3)]


def test_a_suiting_dish_goes_straight_in(web, store, diet_menu, vegetarian, customer):
    web.force_login(customer)
    response = add(web, store, diet_menu.tea, htmx=True)
    assert "HX-Retarget" not in response and "Added Tea." in response.content.decode()
    assert [line["dish"] for line in cart_lines(web, store)] == [diet_menu.tea.pk]


# --- everybody else: the menu as it was ----------------------------------------------------------


def _page(client, store, monkeypatch=None):
    if monkeypatch is not None:
        monkeypatch.setattr(panels, "_menu_advisors", [])
    return normalised(client.get(menu_url(store)).content.decode())


@pytest.mark.parametrize("who", ["anonymous", "customer", "member elsewhere", "member without needs"])
def test_everybody_else_sees_the_menu_exactly_as_without_the_canteen(who, web, store, diet_menu, customer,
                                                                     organisation, monkeypatch):
    if who == "customer":
        web.force_login(UserFactory(phone="13800000999"))
    elif who == "member elsewhere":  # a member whose organisation this store does not serve
        other = organisation_for(StoreFactory(brand=store.brand, code="SH002"), code="other-org")
        member = member_of(other, number="E900", phone="13800000998", dietary_needs=["vegetarian"],
                           allergies=[Allergen.objects.get(pk="peanuts")])
        web.force_login(member.user)
    elif who == "member without needs":
        member_of(organisation, user=customer)
        web.force_login(customer)
    with_canteen = _page(web, store)
    assert "Suits" not in with_canteen and "diet-warning" not in with_canteen and "diet-filter" not in with_canteen
    assert with_canteen == _page(web, store, monkeypatch)
    # adding any dish: no question asked
    response = add(web, store, diet_menu.dumplings)
    assert response.status_code == 302
    assert [line["dish"] for line in cart_lines(web, store)] == [diet_menu.dumplings.pk]


def test_the_suits_parameter_changes_nothing_for_a_non_member(web, store, diet_menu, monkeypatch):
    page = normalised(web.get(menu_url(store, suits=1)).content.decode())
    assert 'id="dish-noodles"' in page and 'id="dish-dumplings"' in page
    # the same page but for the links back to this URL (login, language)
    assert page.replace("%3Fsuits%3D1", "").replace("?suits=1", "") == _page(web, store, monkeypatch)


# --- the member page: recording needs -----------------------------------------------------------


def test_the_member_records_needs(web, member, customer):
    web.force_login(customer)
    url = reverse("canteen:member-home")
    page = web.get(url).content.decode()
    assert 'name="needs" value="halal"' in page and 'name="allergies" value="peanuts"' in page
    response = web.post(url, {"needs": ["halal", "low_sugar"]})
    assert response.status_code == 302 and response["Location"] == url
    member.refresh_from_db()
    assert member.dietary_needs == ["halal", "low_sugar"]
    page = web.get(url).content.decode()
    assert "Your dietary needs are saved." in page
    assert re.search(r'value="halal"[^>]*checked', page) and not re.search(r'value="vegetarian"[^>]*checked', page)
    # and clearing them
    web.post(url, {})
    member.refresh_from_db()
    assert member.dietary_needs == []


def test_the_member_records_allergies(web, member, customer):
    web.force_login(customer)
    url = reverse("canteen:member-home")
    response = web.post(url, {"needs": ["halal"], "allergies": ["peanuts", "milk"]})
    assert response.status_code == 302
    member.refresh_from_db()
    assert sorted(member.allergies.values_list("code", flat=True)) == ["milk", "peanuts"]
    web.post(url, {})
    assert not member.allergies.exists()


def test_an_unknown_need_is_refused_and_nothing_changes(web, member, customer):
    member_dietary_update(member=member, needs=["halal"], allergy_ids=[])
    web.force_login(customer)
    response = web.post(reverse("canteen:member-home"), {"needs": ["carnivore"], "allergies": ["unobtainium"]})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    member.refresh_from_db()
    assert member.dietary_needs == ["halal"]


def test_the_member_page_needs_a_login_and_explains_itself_to_non_members(web, customer):
    url = reverse("canteen:member-home")
    response = web.get(url)
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    web.force_login(customer)
    response = web.get(url)
    assert response.status_code == 200
    assert "Your account is not a member of a canteen organisation" in response.content.decode()
    assert web.post(url, {"needs": ["halal"]}).status_code == 200  # nothing to record, the same page
