from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from stores.api.serializers import StoreMenuSerializer
from stores.models import OpeningHours
from tests.stores.factories import (
    BrandFactory,
    DishFactory,
    OptionFactory,
    OptionGroupFactory,
    StoreDishOverrideFactory,
    StoreFactory,
    build_menu,
)

LIST_URL = "/api/v1/stores/"


def menu_url(code: str) -> str:
    return f"/api/v1/stores/{code}/menu/"


@pytest.fixture
def three_stores(brand):
    return {
        "BJ1": StoreFactory(
            brand=brand, code="BJ1", city="北京", latitude=Decimal("39.9042"), longitude=Decimal("116.4074")
        ),
        "SH1": StoreFactory(
            brand=brand, code="SH1", city="上海", latitude=Decimal("31.2304"), longitude=Decimal("121.4737")
        ),
        "HZ1": StoreFactory(
            brand=brand,
            code="HZ1",
            city="杭州",
            latitude=Decimal("30.2800"),
            longitude=Decimal("120.1600"),
            offers_delivery=True,
        ),
    }


# --- store list ---


@pytest.mark.django_db
def test_store_list_nearest_first_with_distance(api_client, three_stores):
    response = api_client.get(LIST_URL, {"lat": "30.2741", "lng": "120.1551"})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [s["code"] for s in body["results"]] == ["HZ1", "SH1", "BJ1"]
    assert [s["distance_km"] for s in body["results"]] == [
        pytest.approx(0.81, abs=0.01),
        pytest.approx(164.87, abs=0.05),
        pytest.approx(1123.49, abs=0.1),
    ]
    hangzhou = body["results"][0]
    assert hangzhou == {
        "code": "HZ1",
        "name": three_stores["HZ1"].name,
        "brand": "acme",
        "city": "杭州",
        "district": "黄浦区",
        "address": "南京东路 1 号",
        "latitude": "30.280000",
        "longitude": "120.160000",
        "fulfilment_modes": ["pickup", "delivery", "dine_in"],
        "prep_time_minutes": 15,
        "is_open": True,
        "open_now": True,
        "distance_km": hangzhou["distance_km"],
    }


@pytest.mark.django_db
def test_store_list_without_location_has_null_distance_and_city_filter(api_client, three_stores):
    everything = api_client.get(LIST_URL).json()
    in_shanghai = api_client.get(LIST_URL, {"city": "上海"}).json()

    assert everything["count"] == 3
    assert all(s["distance_km"] is None for s in everything["results"])
    assert [s["code"] for s in in_shanghai["results"]] == ["SH1"]


@pytest.mark.django_db
def test_store_list_hides_inactive_brands_and_paginates(api_client, brand):
    for i in range(3):
        StoreFactory(brand=brand, code=f"S{i}")
    StoreFactory(brand=BrandFactory(code="gone", is_active=False), code="GONE")

    body = api_client.get(LIST_URL, {"limit": 2}).json()

    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert "offset=2" in body["next"]


@pytest.mark.django_db
def test_store_list_open_now_follows_hours(api_client, store, time_machine):
    OpeningHours.objects.create(brand=store.brand, store=store, weekday=0, opens=time(11, 0), closes=time(14, 0))
    time_machine.move_to(datetime(2025, 1, 6, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)  # Monday

    [result] = api_client.get(LIST_URL).json()["results"]

    assert result["is_open"] is True
    assert result["open_now"] is False


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lat": "31.2"}, "non_field_errors"),
        ({"lng": "121.4"}, "non_field_errors"),
        ({"lat": "abc", "lng": "121.4"}, "lat"),
        ({"lat": "91", "lng": "121.4"}, "lat"),
        ({"lat": "31.2", "lng": "-181"}, "lng"),
        ({"lat": "nan", "lng": "121.4"}, "lat"),
        ({"city": "x" * 51}, "city"),
    ],
)
def test_store_list_bad_query_is_400_json(api_client, three_stores, params, field):
    response = api_client.get(LIST_URL, params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["detail"]


# --- menu ---


@pytest.mark.django_db
def test_store_menu_contract(api_client, store):
    dish = DishFactory(
        brand=store.brand, code="NOODLE", name_zh="牛肉面", name_en="Beef noodles", price=Decimal("28.00")
    )
    StoreDishOverrideFactory(store=store, dish=dish, price=Decimal("26.00"), stock=3)
    DishFactory(brand=store.brand, code="RETIRED", is_active=False)

    response = api_client.get(menu_url(store.code))

    assert response.status_code == 200
    body = response.json()
    assert body["store"]["code"] == store.code
    assert body["store"]["distance_km"] is None
    [category] = body["categories"]
    assert category["code"] == dish.category.code
    assert category["name"] == dish.category.name_zh
    [served] = category["dishes"]
    assert served == {
        "id": dish.pk,  # what an order line names (POST /api/v1/orders/)
        "code": "NOODLE",
        "name": "牛肉面",
        "description": "",
        "price": "26.00",
        "available": True,
        "sold_out": False,
        "low_stock": True,
        "stock": 3,
        "is_set_meal": False,
        "tags": [],
        "allergens": [],
        "nutrition": {"kcal": 520, "protein_g": "22.5", "fat_g": "18.0", "carbs_g": "60.0"},
        "option_groups": [],
    }
    assert body["option_groups"] == []


@pytest.mark.django_db
def test_store_menu_option_groups_once_at_the_top_dishes_refer_by_code(api_client, store):
    spice = OptionGroupFactory(brand=store.brand, code="spice", name_zh="辣度", name_en="Spice level", sort_order=1)
    mild = OptionFactory(group=spice, name_zh="微辣", name_en="Mild", sort_order=1, is_default=True)
    hot = OptionFactory(group=spice, name_zh="特辣", name_en="Hot", sort_order=2, price_delta=Decimal("2.5"))
    size = OptionGroupFactory(
        brand=store.brand, code="size", name_zh="份量", name_en="Size", min_choices=0, max_choices=2, sort_order=2
    )
    OptionGroupFactory(brand=store.brand, code="unused")
    noodle = DishFactory(brand=store.brand, code="NOODLE", sort_order=1)
    noodle.option_groups.set([size, spice])
    rice = DishFactory(brand=store.brand, category=noodle.category, code="RICE", sort_order=2)
    rice.option_groups.set([size])

    body = api_client.get(menu_url(store.code), HTTP_ACCEPT_LANGUAGE="en").json()

    assert [d["option_groups"] for d in body["categories"][0]["dishes"]] == [["spice", "size"], ["size"]]
    assert body["option_groups"] == [
        {
            "code": "spice",
            "name": "Spice level",
            "min_choices": 1,
            "max_choices": 1,
            "options": [
                {"id": mild.pk, "name": "Mild", "price_delta": "0.00", "is_default": True},
                {"id": hot.pk, "name": "Hot", "price_delta": "2.50", "is_default": False},
            ],
        },
        {"code": "size", "name": "Size", "min_choices": 0, "max_choices": 2, "options": []},
    ]


@pytest.mark.django_db
def test_store_menu_response_has_exactly_the_documented_fields(api_client, store):
    build_menu(store, 2)
    documented = StoreMenuSerializer()

    body = api_client.get(menu_url(store.code)).json()

    category_fields = documented.fields["categories"].child.fields
    dish_fields = category_fields["dishes"].child.fields
    group_fields = documented.fields["option_groups"].child.fields
    assert set(body) == set(documented.fields)
    assert set(body["store"]) == set(documented.fields["store"].fields)
    for category in body["categories"]:
        assert set(category) == set(category_fields)
        for dish in category["dishes"]:
            assert set(dish) == set(dish_fields)
            assert set(dish["nutrition"]) == set(dish_fields["nutrition"].fields)
            assert all(set(tag) == set(dish_fields["tags"].child.fields) for tag in dish["tags"] + dish["allergens"])
    assert body["option_groups"]
    for group in body["option_groups"]:
        assert set(group) == set(group_fields)
        assert all(set(option) == set(group_fields["options"].child.fields) for option in group["options"])


@pytest.mark.django_db
def test_store_menu_options_tags_and_sold_out(api_client, store):
    dishes = build_menu(store, 3)

    body = api_client.get(menu_url(store.code)).json()

    served = {d["code"]: d for c in body["categories"] for d in c["dishes"]}
    assert set(served) == {d.code for d in dishes}
    first = served[dishes[0].code]  # stock 0
    assert (first["available"], first["sold_out"], first["stock"]) == (False, True, 0)
    assert [t["code"] for t in first["tags"]] == ["light", "spicy"]
    assert [a["code"] for a in first["allergens"]] == ["gluten", "peanut"]
    groups = {group["code"]: group for group in body["option_groups"]}
    assert len(first["option_groups"]) == 2
    assert set(first["option_groups"]) == set(groups)
    group = groups[first["option_groups"][0]]
    assert (group["min_choices"], group["max_choices"]) == (1, 1)
    assert [o["price_delta"] for o in group["options"]] == ["0.00", "1.00", "2.00"]
    assert [o["is_default"] for o in group["options"]] == [True, False, False]
    assert all(isinstance(o["id"], int) for o in group["options"])


@pytest.mark.django_db
def test_store_menu_names_follow_accept_language(api_client, store):
    DishFactory(brand=store.brand, name_zh="牛肉面", name_en="Beef noodles", description_en="Hand-pulled")

    english = api_client.get(menu_url(store.code), HTTP_ACCEPT_LANGUAGE="en").json()
    chinese = api_client.get(menu_url(store.code)).json()

    assert english["categories"][0]["dishes"][0]["name"] == "Beef noodles"
    assert english["categories"][0]["dishes"][0]["description"] == "Hand-pulled"
    assert english["categories"][0]["name"].startswith("Category ")
    assert chinese["categories"][0]["dishes"][0]["name"] == "牛肉面"


@pytest.mark.django_db
def test_store_menu_unknown_store_is_404_json(api_client, brand):
    hidden = StoreFactory(brand=BrandFactory(code="gone", is_active=False), code="GONE")

    for code in ("NOPE", hidden.code):
        response = api_client.get(menu_url(code), HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 404
        assert response.json() == {"code": "not_found", "detail": "No store with this code."}


@pytest.mark.django_db
def test_store_menu_query_count_is_bounded_for_10_and_100_dishes(api_client, brand, django_assert_max_num_queries):
    few = StoreFactory(brand=brand, code="FEW")
    many = StoreFactory(brand=BrandFactory(code="many"), code="MANY")
    build_menu(few, 10)
    build_menu(many, 100)

    with django_assert_max_num_queries(8) as small:
        small_body = api_client.get(menu_url("FEW")).json()
    with django_assert_max_num_queries(8) as big:
        big_body = api_client.get(menu_url("MANY")).json()

    assert sum(len(c["dishes"]) for c in small_body["categories"]) == 10
    assert sum(len(c["dishes"]) for c in big_body["categories"]) == 100
    assert len(small.captured_queries) == len(big.captured_queries)


@pytest.mark.django_db
def test_store_list_query_count_is_bounded(api_client, brand, django_assert_max_num_queries):
    for i in range(30):
        StoreFactory(brand=brand, code=f"S{i:02d}")
    with django_assert_max_num_queries(3):
        body = api_client.get(LIST_URL, {"lat": "31.2", "lng": "121.4"}).json()
    assert len(body["results"]) == 30


# --- schema ---


@pytest.mark.django_db
def test_schema_documents_the_store_endpoints(api_client):
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/stores/" in schema["paths"]
    assert "/api/v1/stores/{store_code}/menu/" in schema["paths"]
    list_params = {p["name"] for p in schema["paths"]["/api/v1/stores/"]["get"]["parameters"]}
    assert {"city", "lat", "lng", "limit", "offset"} <= list_params
    assert "404" in schema["paths"]["/api/v1/stores/{store_code}/menu/"]["get"]["responses"]
    components = schema["components"]["schemas"]
    assert components["StoreMenu"]["properties"]["option_groups"]["items"] == {
        "$ref": "#/components/schemas/MenuOptionGroup"
    }
    assert components["MenuDish"]["properties"]["option_groups"]["items"] == {"type": "string"}
    assert components["MenuOptionGroup"]["properties"]["options"]["items"] == {
        "$ref": "#/components/schemas/MenuOption"
    }


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/v1/stores/%00/menu/", "/api/v1/stores/SH%00X/menu/"])
def test_menu_of_an_impossible_store_code_is_404_not_500(client, brand, path):
    StoreFactory(brand=brand, code="SH1")
    assert client.get(path).status_code == 404


@pytest.mark.django_db
def test_store_list_api_lists_chain_stores_only(client, brand):
    from stores.models import BrandKind

    canteen = BrandFactory(code="canteen", kind=BrandKind.CANTEEN)
    StoreFactory(brand=brand, code="SH1")
    StoreFactory(brand=canteen, code="CT1")

    response = client.get(LIST_URL)

    assert response.status_code == 200
    assert [row["code"] for row in response.json()["results"]] == ["SH1"]
    assert response.json()["count"] == 1
    assert client.get(menu_url("CT1")).status_code == 200  # its menu still opens by code
