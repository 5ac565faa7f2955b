import re
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from stores.models import Allergen, OpeningHours, Tag
from tests.stores.factories import (
    BrandFactory,
    DishFactory,
    MenuCategoryFactory,
    OptionFactory,
    OptionGroupFactory,
    StoreDishOverrideFactory,
    StoreFactory,
    build_menu,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
LIST_URL = "/stores/"


def _codes_in_order(html: str) -> list[str]:
    return re.findall(r'href="/stores/([A-Za-z0-9_-]+)/"', html)


@pytest.fixture
def menu_store(store):
    """A store with a priced, badged, optioned menu."""
    brand = store.brand
    mains = MenuCategoryFactory(brand=brand, code="mains", name_zh="主食", name_en="Mains", sort_order=1)
    noodles = DishFactory(
        brand=brand,
        category=mains,
        code="NOODLE",
        name_zh="牛肉面",
        name_en="Beef noodles",
        description_zh="手工拉面",
        description_en="Hand-pulled noodles",
        price=Decimal("28.00"),
        is_set_meal=True,
    )
    noodles.tags.set([Tag.objects.update_or_create(code="spicy", defaults={"name_zh": "辣", "name_en": "Spicy"})[0]])
    noodles.allergens.set(
        [Allergen.objects.update_or_create(code="gluten", defaults={"name_zh": "麸质", "name_en": "Gluten"})[0]]
    )
    spice = OptionGroupFactory(brand=brand, code="spice", name_zh="辣度", name_en="Spice level")
    OptionFactory(group=spice, name_zh="微辣", name_en="Mild", sort_order=1, is_default=True)
    OptionFactory(group=spice, name_zh="特辣", name_en="Hot", sort_order=2, price_delta=Decimal("2.00"))
    noodles.option_groups.set([spice])
    StoreDishOverrideFactory(store=store, dish=noodles, stock=3)
    rice = DishFactory(brand=brand, category=mains, code="RICE", name_zh="卤肉饭", name_en="Braised pork rice")
    StoreDishOverrideFactory(store=store, dish=rice, price=Decimal("25.50"), stock=0)
    DishFactory(brand=brand, category=mains, code="GONE", name_zh="下架菜", name_en="Retired dish", is_active=False)
    return store


# --- store list ---


@pytest.mark.django_db
def test_store_list_shows_stores_with_address_modes_and_open_state(client, brand):
    StoreFactory(
        brand=brand, code="SH1", name="人民广场店", district="黄浦区", address="南京东路 1 号", offers_delivery=True
    )
    StoreFactory(brand=brand, code="SH2", name="关店测试", is_open=False)

    response = client.get(LIST_URL, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    html = response.content.decode()
    assert "人民广场店" in html
    assert "南京东路 1 号" in html
    assert "黄浦区" in html
    assert "Delivery" in html
    assert "Pickup" in html
    assert html.count("Open now") == 1
    assert html.count(">Closed<") == 1
    assert _codes_in_order(html) == ["SH1", "SH2"]


@pytest.mark.django_db
def test_store_list_city_filter(client, brand):
    StoreFactory(brand=brand, code="SH1", city="上海")
    StoreFactory(brand=brand, code="BJ1", city="北京")

    response = client.get(LIST_URL, {"city": "北京"})

    assert _codes_in_order(response.content.decode()) == ["BJ1"]
    assert '<option value="北京" selected>' in response.content.decode()
    assert '<option value="上海">' in response.content.decode()


@pytest.mark.django_db
def test_store_list_unknown_city_shows_empty_message(client, brand):
    StoreFactory(brand=brand, code="SH1", city="上海")
    response = client.get(LIST_URL, {"city": "火星"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "No stores in 火星 yet." in response.content.decode()


@pytest.mark.django_db
def test_store_list_pagination_keeps_filters(client, brand):
    for i in range(25):
        StoreFactory(brand=brand, code=f"SH{i:02d}", city="上海")
    StoreFactory(brand=brand, code="BJ1", city="北京")

    first = client.get(LIST_URL, {"city": "上海", "lat": "31.23", "lng": "121.47"}, HTTP_ACCEPT_LANGUAGE="en")
    html = first.content.decode()
    assert len(_codes_in_order(html)) == 20
    next_link = re.search(r'rel="next" href="([^"]+)"', html).group(1)
    assert "city=%E4%B8%8A%E6%B5%B7" in next_link
    assert "lat=31.23" in next_link
    assert "lng=121.47" in next_link
    assert "page=2" in next_link

    second = client.get(LIST_URL + next_link.replace("&amp;", "&"), HTTP_ACCEPT_LANGUAGE="en")
    codes = _codes_in_order(second.content.decode())
    assert len(codes) == 5
    assert "BJ1" not in codes
    assert "Page 2 of 2" in second.content.decode()


@pytest.mark.django_db
def test_store_list_nearest_first_with_distance(client, brand):
    StoreFactory(brand=brand, code="BJ1", city="北京", latitude=Decimal("39.9042"), longitude=Decimal("116.4074"))
    StoreFactory(brand=brand, code="SH1", city="上海", latitude=Decimal("31.2304"), longitude=Decimal("121.4737"))
    StoreFactory(brand=brand, code="HZ1", city="杭州", latitude=Decimal("30.2800"), longitude=Decimal("120.1600"))

    response = client.get(LIST_URL, {"lat": "30.2741", "lng": "120.1551"}, HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    assert _codes_in_order(html) == ["HZ1", "SH1", "BJ1"]
    assert "807 m" in html
    assert "164.9 km" in html
    assert "Nearest stores first." in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {"lat": "abc", "lng": "121.47"},
        {"lat": "95", "lng": "121.47"},
        {"lat": "31.2", "lng": "200"},
        {"lat": "31.2"},
        {"lat": "nan", "lng": "inf"},
    ],
)
def test_store_list_invalid_location_shows_message_and_unsorted_list(client, brand, params):
    StoreFactory(brand=brand, code="B1", city="北京")
    StoreFactory(brand=brand, code="A1", city="北京")

    response = client.get(LIST_URL, params, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    html = response.content.decode()
    assert "We could not read your location" in html
    assert _codes_in_order(html) == ["A1", "B1"]
    assert " km<" not in html


@pytest.mark.django_db
def test_store_list_page_serves_its_own_assets(client, brand):
    StoreFactory(brand=brand)
    html = client.get(LIST_URL).content.decode()

    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert "/static/js/stores.js" in assets
    assert "/static/css/app.css" in assets
    assert all(asset.startswith("/static/") for asset in assets)
    script = client.get("/static/js/stores.js")
    assert script.status_code == 200
    assert b"navigator.geolocation" in b"".join(script.streaming_content)
    script.close()


@pytest.mark.django_db
def test_store_list_is_chinese_by_default(client, brand):
    StoreFactory(brand=brand)
    response = client.get(LIST_URL)
    assert '<html lang="zh-hans">' in response.content.decode()


# --- store page ---


@pytest.mark.django_db
def test_store_page_shows_menu_prices_badges_allergens_nutrition_options(client, menu_store):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.get(reverse("stores:store-detail", args=[menu_store.code]))

    assert response.status_code == 200
    html = response.content.decode()
    assert menu_store.name in html
    assert "Beef noodles" in html
    assert "牛肉面" not in html
    assert "Hand-pulled noodles" in html
    assert "Mains" in html
    assert 'href="#cat-mains"' in html
    assert "¥28.00" in html
    assert "¥25.50" in html
    assert "Only 3 left" in html
    assert "Sold out" in html
    assert "Set meal" in html
    assert "Spicy" in html
    assert "Gluten" in html
    assert "520 kcal" in html
    assert "22.5 g" in html
    assert "Spice level" in html
    assert "Mild / Hot +¥2.00" in html
    assert "Retired dish" not in html
    assert "about 15 minutes" in html


@pytest.mark.django_db
def test_store_page_badges_sit_on_the_right_dish(client, menu_store):
    html = client.get(f"/stores/{menu_store.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    noodle = html[html.index('id="dish-NOODLE"') : html.index('id="dish-RICE"')]
    rice = html[html.index('id="dish-RICE"') :]
    assert "Only 3 left" in noodle
    assert "Sold out" not in noodle
    assert "Sold out" in rice
    assert "sold-out" in html[html.rindex("<li", 0, html.index('id="dish-RICE"')) : html.index('id="dish-RICE"')]


@pytest.mark.django_db
def test_store_page_lists_a_shared_option_group_under_each_dish_that_offers_it(client, menu_store):
    rice = menu_store.brand.dishes.get(code="RICE")
    rice.option_groups.set(menu_store.brand.option_groups.filter(code="spice"))

    html = client.get(f"/stores/{menu_store.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    noodle = html[html.index('id="dish-NOODLE"') : html.index('id="dish-RICE"')]
    rice_html = html[html.index('id="dish-RICE"') :]
    for part in (noodle, rice_html):
        assert "<strong>Spice level</strong>" in part
        assert "Mild / Hot +¥2.00" in part


@pytest.mark.django_db
def test_store_page_is_chinese_by_default_and_english_by_accept_language(client, menu_store):
    chinese = client.get(f"/stores/{menu_store.code}/").content.decode()
    english = client.get(f"/stores/{menu_store.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "牛肉面" in chinese
    assert "辣度" in chinese
    assert "麸质" in chinese
    assert "Beef noodles" not in chinese
    assert "Beef noodles" in english
    assert "Braised pork rice" in english
    assert "卤肉饭" not in english


@pytest.mark.django_db
def test_store_page_hours_and_open_state(client, store):
    OpeningHours.objects.create(brand=store.brand, store=store, weekday=4, opens=time(22, 0), closes=time(2, 0))
    OpeningHours.objects.create(brand=store.brand, store=store, weekday=5, opens=time(10, 0), closes=time(14, 0))

    with time_machine.travel(datetime(2025, 1, 11, 1, 30, tzinfo=SHANGHAI), tick=False):  # Saturday 01:30
        html = client.get(f"/stores/{store.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Open now" in html
    assert "10:00-14:00" in html

    with time_machine.travel(datetime(2025, 1, 11, 15, 0, tzinfo=SHANGHAI), tick=False):
        html = client.get(f"/stores/{store.code}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Open now" not in html
    assert "Closed" in html


@pytest.mark.django_db
def test_store_page_unknown_code_is_a_friendly_404(client, brand):
    response = client.get("/stores/NOPE/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()
    assert "See all stores" in response.content.decode()


@pytest.mark.django_db
def test_store_page_of_inactive_brand_is_404(client):
    store = StoreFactory(brand=BrandFactory(code="gone", is_active=False))
    assert client.get(f"/stores/{store.code}/").status_code == 404


@pytest.mark.django_db
def test_store_page_query_count_is_bounded_for_10_and_100_dishes(client, brand, django_assert_max_num_queries):
    few = StoreFactory(brand=brand, code="FEW")
    many = StoreFactory(brand=BrandFactory(code="many"), code="MANY")
    build_menu(few, 10)
    build_menu(many, 100)

    with django_assert_max_num_queries(8) as small:
        small_response = client.get("/stores/FEW/")
    with django_assert_max_num_queries(8) as big:
        big_response = client.get("/stores/MANY/")

    assert small_response.content.decode().count('class="card dish') == 10
    assert big_response.content.decode().count('class="card dish') == 100
    assert len(small.captured_queries) == len(big.captured_queries)


@pytest.mark.django_db
def test_store_list_bad_page_number_falls_back_and_city_too_long_is_harmless(client, brand):
    StoreFactory(brand=brand, code="SH1", city="上海")
    assert _codes_in_order(client.get(LIST_URL, {"page": "abc"}).content.decode()) == ["SH1"]
    assert _codes_in_order(client.get(LIST_URL, {"page": "99"}).content.decode()) == ["SH1"]
    response = client.get(LIST_URL, {"city": "上" * 500}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "We could not read your location" not in response.content.decode()


@pytest.mark.django_db
def test_store_list_query_count_is_bounded(client, brand, django_assert_max_num_queries):
    for i in range(30):
        store = StoreFactory(brand=brand, code=f"S{i:02d}")
        OpeningHours.objects.create(brand=brand, store=store, weekday=0, opens=time(10, 0), closes=time(22, 0))

    with django_assert_max_num_queries(4):
        response = client.get(LIST_URL, {"lat": "31.2", "lng": "121.4"})

    assert len(_codes_in_order(response.content.decode())) == 20


# --- review fixes: NUL bytes, canteens, option deltas, translated units ---


@pytest.mark.django_db
def test_store_list_city_with_nul_byte_is_no_filter_not_a_500(client, brand):
    StoreFactory(brand=brand, code="SH1", city="上海")

    response = client.get("/stores/?city=%00")

    assert response.status_code == 200
    assert _codes_in_order(response.content.decode()) == ["SH1"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/stores/%00/", "/stores/SH%00/", "/stores/" + "A" * 33 + "/"])
def test_store_page_with_an_impossible_code_is_404(client, brand, path):
    StoreFactory(brand=brand, code="SH1")
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_store_list_shows_chain_stores_only_but_canteen_page_opens(client, brand):
    from stores.models import BrandKind

    canteen = BrandFactory(code="canteen", kind=BrandKind.CANTEEN)
    StoreFactory(brand=brand, code="SH1", city="上海")
    StoreFactory(brand=canteen, code="CT1", city="苏州")

    response = client.get(LIST_URL)

    assert _codes_in_order(response.content.decode()) == ["SH1"]
    assert response.context["cities"] == ["上海"]
    assert client.get("/stores/CT1/").status_code == 200


@pytest.mark.django_db
def test_store_page_shows_option_delta_only_when_not_zero(client, menu_store):
    html = client.get(reverse("stores:store-detail", args=[menu_store.code]), HTTP_ACCEPT_LANGUAGE="en").content
    html = html.decode()
    assert "Mild / Hot +¥2.00" in html
    assert "+¥0" not in html
    assert "(+" not in html


@pytest.fixture
def unit_translations():
    """Chinese units as the catalogue will have them (the lead adds them to django.po)."""
    from django.utils.translation import trans_real

    catalog = trans_real.translation("zh-hans")._catalog
    added = {"energy unit\x04kcal": "千卡", "mass unit: grams\x04g": "克"}
    saved = {key: catalog.get(key) for key in added}
    for key, value in added.items():
        catalog[key] = value
    yield
    for key, value in saved.items():
        if value is None:
            for part in catalog._catalogs:  # TranslationCatalog has no __delitem__
                part.pop(key, None)
        else:
            catalog[key] = value


@pytest.mark.django_db
def test_store_page_nutrition_units_are_translated(client, menu_store, unit_translations):
    url = reverse("stores:store-detail", args=[menu_store.code])

    chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "520 千卡" in chinese and "22.5 克" in chinese
    assert "kcal" not in chinese and "22.5 g<" not in chinese
    assert "520 kcal" in english and "22.5 g<" in english
