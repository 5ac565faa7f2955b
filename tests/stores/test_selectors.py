from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.cache import cache
from django.db import transaction
from django.utils import translation

from stores import selectors
from stores.cache import menu_changed
from stores.errors import StoreNotFound
from stores.models import Allergen, Dish, OpeningHours, Option, StoreDishOverride, Tag
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
HANGZHOU = (30.2741, 120.1551)


def _dish(menu, code):
    return next(dish for category in menu.categories for dish in category.dishes if dish.code == code)


# --- store list ---


@pytest.mark.django_db
def test_store_list_nearest_first_with_distance(brand):
    beijing = StoreFactory(
        brand=brand, code="BJ1", city="北京", latitude=Decimal("39.904200"), longitude=Decimal("116.407400")
    )
    shanghai = StoreFactory(
        brand=brand, code="SH1", city="上海", latitude=Decimal("31.230400"), longitude=Decimal("121.473700")
    )
    hangzhou = StoreFactory(
        brand=brand, code="HZ1", city="杭州", latitude=Decimal("30.280000"), longitude=Decimal("120.160000")
    )

    stores = list(selectors.store_list_public(lat=HANGZHOU[0], lng=HANGZHOU[1]))

    assert [s.code for s in stores] == [hangzhou.code, shanghai.code, beijing.code]
    assert stores[0].distance_km == pytest.approx(0.81, abs=0.01)
    assert stores[1].distance_km == pytest.approx(164.87, abs=0.05)
    assert stores[2].distance_km == pytest.approx(1123.49, abs=0.1)


@pytest.mark.django_db
def test_store_list_without_location_is_by_city_and_code_with_no_distance(brand):
    StoreFactory(brand=brand, code="B2", city="Shanghai")
    StoreFactory(brand=brand, code="A1", city="Beijing")
    StoreFactory(brand=brand, code="A2", city="Shanghai")

    stores = list(selectors.store_list_public())

    assert [(s.city, s.code) for s in stores] == [("Beijing", "A1"), ("Shanghai", "A2"), ("Shanghai", "B2")]
    assert all(s.distance_km is None for s in stores)


@pytest.mark.django_db
def test_store_list_city_filter_is_exact_and_hides_inactive_brands(brand):
    StoreFactory(brand=brand, code="SH1", city="上海")
    StoreFactory(brand=brand, code="SH2", city="上海市")
    StoreFactory(brand=brand, code="BJ1", city="北京")
    closed_brand = BrandFactory(code="gone", is_active=False)
    StoreFactory(brand=closed_brand, code="SH9", city="上海")

    assert [s.code for s in selectors.store_list_public(city="上海")] == ["SH1"]
    assert {s.code for s in selectors.store_list_public()} == {"SH1", "SH2", "BJ1"}
    assert selectors.city_list() == sorted(["上海", "上海市", "北京"])


@pytest.mark.django_db
def test_store_get_public_unknown_or_inactive_brand_raises_not_found(brand):
    store = StoreFactory(brand=brand, code="SH1")
    hidden = StoreFactory(brand=BrandFactory(code="gone", is_active=False), code="GONE1")

    assert selectors.store_get_public(code="SH1") == store
    with pytest.raises(StoreNotFound) as excinfo:
        selectors.store_get_public(code="NOPE")
    assert excinfo.value.code == "not_found"
    assert excinfo.value.status_code == 404
    with pytest.raises(StoreNotFound):
        selectors.store_get_public(code=hidden.code)


# --- menu ---


@pytest.mark.django_db
def test_store_menu_prices_availability_and_stock(store):
    brand = store.brand
    inherit = DishFactory(brand=brand, code="INHERIT", price=Decimal("28.00"))
    override = DishFactory(brand=brand, code="OVER", price=Decimal("28.00"))
    StoreDishOverrideFactory(store=store, dish=override, price=Decimal("25.50"), stock=None)
    empty = DishFactory(brand=brand, code="EMPTY")
    StoreDishOverrideFactory(store=store, dish=empty, stock=0)
    off = DishFactory(brand=brand, code="OFFSTORE")
    StoreDishOverrideFactory(store=store, dish=off, is_available=False, stock=10)
    low = DishFactory(brand=brand, code="LOW")
    StoreDishOverrideFactory(store=store, dish=low, stock=3)
    enough = DishFactory(brand=brand, code="ENOUGH")
    StoreDishOverrideFactory(store=store, dish=enough, stock=6)
    DishFactory(brand=brand, code="RETIRED", is_active=False)
    # another store's override never leaks into this store's menu
    StoreDishOverrideFactory(store=StoreFactory(brand=brand), dish=inherit, price=Decimal("1.00"), stock=0)

    menu = selectors.store_menu(store=store)

    codes = {dish.code for category in menu.categories for dish in category.dishes}
    assert codes == {"INHERIT", "OVER", "EMPTY", "OFFSTORE", "LOW", "ENOUGH"}
    assert menu.dish_count == 6
    got = _dish(menu, "INHERIT")
    assert (got.price, got.available, got.sold_out, got.stock, got.low_stock) == (
        Decimal("28.00"),
        True,
        False,
        None,
        False,
    )
    assert _dish(menu, "OVER").price == Decimal("25.50")
    assert _dish(menu, "EMPTY").sold_out is True
    assert _dish(menu, "EMPTY").available is False
    assert _dish(menu, "EMPTY").low_stock is False
    assert _dish(menu, "OFFSTORE").sold_out is True
    assert _dish(menu, "OFFSTORE").stock == 10
    assert (_dish(menu, "LOW").low_stock, _dish(menu, "LOW").stock, _dish(menu, "LOW").sold_out) == (True, 3, False)
    assert _dish(menu, "ENOUGH").low_stock is False


@pytest.mark.django_db
def test_store_menu_categories_dishes_options_sorted_and_brand_scoped(store):
    brand = store.brand
    second = MenuCategoryFactory(brand=brand, code="mains", sort_order=2, name_zh="主食", name_en="Mains")
    first = MenuCategoryFactory(brand=brand, code="snacks", sort_order=1, name_zh="小吃", name_en="Snacks")
    MenuCategoryFactory(brand=brand, code="empty", sort_order=0)
    DishFactory(brand=brand, category=second, code="B", sort_order=2)
    DishFactory(brand=brand, category=second, code="A", sort_order=1, is_set_meal=True)
    snack = DishFactory(
        brand=brand,
        category=first,
        code="C",
        name_zh="薯条",
        name_en="Fries",
        description_zh="脆",
        description_en="Crispy",
    )
    group = OptionGroupFactory(brand=brand, code="spice", min_choices=1, max_choices=1)
    OptionFactory(group=group, name_zh="特辣", name_en="Hot", sort_order=2, price_delta=Decimal("2.00"))
    OptionFactory(group=group, name_zh="微辣", name_en="Mild", sort_order=1, is_default=True)
    snack.option_groups.set([group])
    snack.tags.set([Tag.objects.update_or_create(code="veg", defaults={"name_zh": "素食", "name_en": "Vegetarian"})[0]])
    snack.allergens.set(
        [Allergen.objects.update_or_create(code="soy", defaults={"name_zh": "大豆", "name_en": "Soy"})[0]]
    )
    DishFactory(brand=BrandFactory(code="rival"), code="RIVAL")

    with translation.override("zh-hans"):
        menu = selectors.store_menu(store=store)
    with translation.override("en"):
        menu_en = selectors.store_menu(store=store)

    assert [c.code for c in menu.categories] == ["snacks", "mains"]
    assert [d.code for d in menu.categories[1].dishes] == ["A", "B"]
    assert menu.categories[1].dishes[0].is_set_meal is True
    fries = menu.categories[0].dishes[0]
    assert (fries.name, fries.description, menu.categories[0].name) == ("薯条", "脆", "小吃")
    assert [(t.code, t.name) for t in fries.tags] == [("veg", "素食")]
    assert [(a.code, a.name) for a in fries.allergens] == [("soy", "大豆")]
    assert fries.nutrition == selectors.Nutrition(520, Decimal("22.5"), Decimal("18.0"), Decimal("60.0"))
    [spice] = fries.option_groups
    assert (spice.code, spice.name, spice.min_choices, spice.max_choices) == ("spice", "辣度", 1, 1)
    assert [(o.name, o.price_delta, o.is_default) for o in spice.options] == [
        ("微辣", Decimal("0.00"), True),
        ("特辣", Decimal("2.00"), False),
    ]
    fries_en = menu_en.categories[0].dishes[0]
    assert (fries_en.name, fries_en.description, menu_en.categories[0].name) == ("Fries", "Crispy", "Snacks")
    assert fries_en.tags[0].name == "Vegetarian"
    assert [o.name for o in fries_en.option_groups[0].options] == ["Mild", "Hot"]


@pytest.mark.django_db
def test_store_menu_query_count_does_not_grow_with_dishes(brand, django_assert_max_num_queries):
    few = StoreFactory(brand=brand, code="FEW")
    many_brand = BrandFactory(code="many")
    many = StoreFactory(brand=many_brand, code="MANY")
    build_menu(few, 10)
    build_menu(many, 100)

    with django_assert_max_num_queries(6) as small:
        assert selectors.store_menu(store=few).dish_count == 10
    with django_assert_max_num_queries(6) as big:
        assert selectors.store_menu(store=many).dish_count == 100
    assert len(small.captured_queries) == len(big.captured_queries)


@pytest.mark.django_db
def test_store_menu_plain_data_for_a_small_menu(store):
    """The whole menu, value by value: store prices, availability, stock, links, both languages."""
    brand = store.brand
    mains = MenuCategoryFactory(brand=brand, code="mains", name_zh="主食", name_en="Mains", sort_order=1)
    drinks = MenuCategoryFactory(brand=brand, code="drinks", name_zh="饮品", name_en="", sort_order=2)
    spicy = Tag.objects.update_or_create(code="spicy", defaults={"name_zh": "辣", "name_en": "Spicy"})[0]
    gluten = Allergen.objects.update_or_create(code="gluten", defaults={"name_zh": "麸质", "name_en": "Gluten"})[0]
    soy = Allergen.objects.update_or_create(code="soy", defaults={"name_zh": "大豆", "name_en": "Soy"})[0]
    spice = OptionGroupFactory(brand=brand, code="spice", name_zh="辣度", name_en="Spice level", sort_order=1)
    mild = OptionFactory(group=spice, name_zh="微辣", name_en="Mild", sort_order=1, is_default=True)
    hot = OptionFactory(group=spice, name_zh="特辣", name_en="Hot", sort_order=2, price_delta=Decimal("2.00"))
    size = OptionGroupFactory(
        brand=brand, code="size", name_zh="份量", name_en="", min_choices=0, max_choices=1, sort_order=2
    )
    large = OptionFactory(group=size, name_zh="大份", name_en="Large", price_delta=Decimal("3.00"))
    OptionGroupFactory(brand=brand, code="unused", sort_order=3)  # offered by no dish: not on the menu
    noodle = DishFactory(
        brand=brand, category=mains, code="NOODLE", name_zh="牛肉面", name_en="Beef noodles",
        description_zh="手工拉面", description_en="Hand-pulled", price=Decimal("28.00"), sort_order=1,
    )
    noodle.tags.set([spicy])
    noodle.allergens.set([gluten])
    noodle.option_groups.set([size, spice])
    StoreDishOverrideFactory(store=store, dish=noodle, price=Decimal("26.00"), stock=3)
    rice = DishFactory(
        brand=brand, category=mains, code="RICE", name_zh="卤肉饭", name_en="", price=Decimal("18.50"),
        sort_order=2, is_set_meal=True, kcal=700, protein_g=Decimal("30.0"),
    )
    rice.allergens.set([soy])
    rice.option_groups.set([size])
    tea = DishFactory(brand=brand, category=drinks, code="TEA", name_zh="奶茶", name_en="Milk tea", price=Decimal("6"))
    StoreDishOverrideFactory(store=store, dish=tea, stock=0)
    soup = DishFactory(brand=brand, category=drinks, code="SOUP", name_zh="例汤", name_en="Soup", sort_order=1)
    StoreDishOverrideFactory(store=store, dish=soup, is_available=False, price=Decimal("5.00"))
    DishFactory(brand=brand, category=drinks, code="OFF", is_active=False)

    def expected(english: bool) -> selectors.StoreMenu:
        def pick(zh, en):
            return en if english and en else zh

        spice_group = selectors.MenuOptionGroup(
            "spice", pick("辣度", "Spice level"), 1, 1,
            (
                selectors.MenuOption(mild.pk, pick("微辣", "Mild"), Decimal("0.00"), True),
                selectors.MenuOption(hot.pk, pick("特辣", "Hot"), Decimal("2.00"), False),
            ),
        )
        size_group = selectors.MenuOptionGroup(
            "size", "份量", 0, 1, (selectors.MenuOption(large.pk, pick("大份", "Large"), Decimal("3.00"), False),)
        )
        nutrition = selectors.Nutrition(520, Decimal("22.5"), Decimal("18.0"), Decimal("60.0"))

        def dish(source, **values):
            defaults = {"is_set_meal": False, "tags": (), "allergens": (), "nutrition": nutrition, "option_groups": ()}
            return selectors.MenuDish(id=source.pk, code=source.code, **(defaults | values))

        return selectors.StoreMenu(
            store=store,
            categories=[
                selectors.MenuCategoryGroup("mains", pick("主食", "Mains"), [
                    dish(
                        noodle, name=pick("牛肉面", "Beef noodles"), description=pick("手工拉面", "Hand-pulled"),
                        price=Decimal("26.00"), available=True, stock=3, low_stock=True,
                        tags=(selectors.NamedCode("spicy", pick("辣", "Spicy")),),
                        allergens=(selectors.NamedCode("gluten", pick("麸质", "Gluten")),),
                        option_groups=(spice_group, size_group),
                    ),
                    dish(
                        rice, name="卤肉饭", description="", price=Decimal("18.50"),
                        available=True, stock=None, low_stock=False, is_set_meal=True,
                        allergens=(selectors.NamedCode("soy", pick("大豆", "Soy")),),
                        nutrition=selectors.Nutrition(700, Decimal("30.0"), Decimal("18.0"), Decimal("60.0")),
                        option_groups=(size_group,),
                    ),
                ]),
                selectors.MenuCategoryGroup("drinks", "饮品", [
                    dish(tea, name=pick("奶茶", "Milk tea"), description="", price=Decimal("6.00"), available=False,
                         stock=0, low_stock=False),
                    dish(soup, name=pick("例汤", "Soup"), description="", price=Decimal("5.00"), available=False,
                         stock=None, low_stock=False),
                ]),
            ],
            option_groups=(spice_group, size_group),
        )

    for language, english in (("zh-hans", False), ("en", True)):
        with translation.override(language):
            menu = selectors.store_menu(store=store)
        assert menu == expected(english), language
    assert [d.sold_out for c in menu.categories for d in c.dishes] == [False, False, True, True]
    # each option group is one object, shared by the dishes that offer it and the top level
    noodle_groups = menu.categories[0].dishes[0].option_groups
    assert noodle_groups[0] is menu.option_groups[0]
    assert noodle_groups[1] is menu.categories[0].dishes[1].option_groups[0] is menu.option_groups[1]


# --- the cache of the brand-wide menu ---


@pytest.fixture
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db(transaction=True)
def test_store_menu_cached_read_is_one_query_for_10_and_100_dishes(empty_cache, django_assert_num_queries):
    few = StoreFactory(brand=BrandFactory(code="few"), code="FEW")
    many = StoreFactory(brand=BrandFactory(code="many"), code="MANY")
    build_menu(few, 10)
    build_menu(many, 100)
    for store in (few, many):
        with django_assert_num_queries(6):  # first read builds the brand part
            selectors.store_menu(store=store)

    with django_assert_num_queries(1) as small:  # then only the store's overrides are read
        assert selectors.store_menu(store=few).dish_count == 10
    with django_assert_num_queries(1) as big:
        assert selectors.store_menu(store=many).dish_count == 100
    assert "storedishoverride" in small.captured_queries[0]["sql"]
    assert "storedishoverride" in big.captured_queries[0]["sql"]


@pytest.mark.django_db(transaction=True)
def test_store_menu_cache_follows_every_menu_change(empty_cache, django_assert_num_queries):
    store = StoreFactory(brand=BrandFactory(code="cached"))
    other = StoreFactory(brand=store.brand)
    first, second = build_menu(store, 2)

    def read():
        with translation.override("en"):
            return selectors.store_menu(store=store)

    read()
    with django_assert_num_queries(1):
        assert _dish(read(), first.code).price == Decimal("28.00")

    first.price = Decimal("30.00")  # brand price
    first.save()
    assert _dish(read(), first.code).price == Decimal("30.00")

    option = Option.objects.filter(group__brand=store.brand).order_by("group__sort_order", "sort_order").first()
    option.name_en = "Renamed"
    option.save()
    assert read().option_groups[0].options[0].name == "Renamed"
    assert _dish(read(), second.code).option_groups[0].options[0].name == "Renamed"

    first.tags.remove(Tag.objects.get(code="spicy"))
    assert [t.code for t in _dish(read(), first.code).tags] == ["light"]

    Tag.objects.filter(code="light").update(name_en="Light")  # no signal: the writer says so itself
    menu_changed(None)
    assert [t.name for t in _dish(read(), first.code).tags] == ["Light"]
    Tag.objects.get(code="light").delete()
    assert _dish(read(), first.code).tags == ()

    added = DishFactory(brand=store.brand, category=first.category, code="NEW", name_en="New dish")
    assert _dish(read(), "NEW").name == "New dish"
    first.category.name_en = "Renamed category"
    first.category.save()
    assert any(c.name == "Renamed category" for c in read().categories)
    added.delete()
    assert "NEW" not in {d.code for c in read().categories for d in c.dishes}

    # the store's overrides are never cached: stock changes with every order
    StoreDishOverride.objects.filter(store=store, dish=second).update(stock=0, price=Decimal("9.90"))
    with django_assert_num_queries(1):
        got = _dish(read(), second.code)
    assert (got.price, got.sold_out, got.stock) == (Decimal("9.90"), True, 0)
    # another store of the brand shares the cached brand part (per language) with its own overrides
    with translation.override("en"), django_assert_num_queries(1):
        assert _dish(selectors.store_menu(store=other), second.code).price == Decimal("28.00")


@pytest.mark.django_db(transaction=True)
def test_uncommitted_menu_change_is_neither_served_from_nor_left_in_the_cache(empty_cache):
    store = StoreFactory(brand=BrandFactory(code="rollback"))
    [dish] = build_menu(store, 1)
    selectors.store_menu(store=store)  # cached

    with pytest.raises(RuntimeError), transaction.atomic():
        Dish.objects.get(pk=dish.pk).tags.clear()
        dish.price = Decimal("1.00")
        dish.save()
        inside = _dish(selectors.store_menu(store=store), dish.code)
        assert (inside.price, inside.tags) == (Decimal("1.00"), ())  # its own change, not the cache
        raise RuntimeError("roll back")

    after = _dish(selectors.store_menu(store=store), dish.code)
    assert after.price == Decimal("28.00")
    assert [t.code for t in after.tags] == ["light", "spicy"]


# --- opening hours ---

FRIDAY = 4
SATURDAY = 5


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    # 2025-01-06 is a Monday
    return datetime(2025, 1, 6 + day, hour, minute, tzinfo=SHANGHAI)


def test_is_open_at_daytime_period():
    periods = [(FRIDAY, time(11, 0), time(14, 0)), (FRIDAY, time(17, 0), time(21, 30))]
    assert selectors.is_open_at(periods, _at(FRIDAY, 11, 0)) is True
    assert selectors.is_open_at(periods, _at(FRIDAY, 13, 59)) is True
    assert selectors.is_open_at(periods, _at(FRIDAY, 14, 0)) is False
    assert selectors.is_open_at(periods, _at(FRIDAY, 15, 30)) is False
    assert selectors.is_open_at(periods, _at(FRIDAY, 21, 0)) is True
    assert selectors.is_open_at(periods, _at(SATURDAY, 12, 0)) is False


def test_is_open_at_period_past_midnight():
    periods = [(FRIDAY, time(22, 0), time(2, 0))]
    assert selectors.is_open_at(periods, _at(FRIDAY, 21, 59)) is False
    assert selectors.is_open_at(periods, _at(FRIDAY, 23, 30)) is True
    assert selectors.is_open_at(periods, _at(SATURDAY, 1, 30)) is True
    assert selectors.is_open_at(periods, _at(SATURDAY, 2, 0)) is False
    assert selectors.is_open_at(periods, _at(FRIDAY, 1, 30)) is False  # Thursday night has no period


def test_is_open_at_sunday_night_runs_into_monday():
    periods = [(6, time(20, 0), time(3, 0))]
    assert selectors.is_open_at(periods, _at(0, 2, 0)) is True  # Monday 02:00
    assert selectors.is_open_at(periods, _at(0, 20, 0)) is False


def test_is_open_at_same_open_and_close_is_a_full_day():
    periods = [(FRIDAY, time(6, 0), time(6, 0))]
    assert selectors.is_open_at(periods, _at(FRIDAY, 5, 59)) is False
    assert selectors.is_open_at(periods, _at(FRIDAY, 6, 0)) is True
    assert selectors.is_open_at(periods, _at(SATURDAY, 5, 59)) is True


@pytest.mark.django_db
def test_store_is_open_now_uses_shanghai_time_and_the_switch(store):
    OpeningHours.objects.create(brand=store.brand, store=store, weekday=FRIDAY, opens=time(22, 0), closes=time(2, 0))
    OpeningHours.objects.create(brand=store.brand, store=store, weekday=SATURDAY, opens=time(10, 0), closes=time(14, 0))

    # Saturday 01:30 in Shanghai is Friday 17:30 UTC: open thanks to Friday's late period
    with time_machine.travel(datetime(2025, 1, 10, 17, 30, tzinfo=ZoneInfo("UTC")), tick=False):
        loaded = selectors.store_get_public(code=store.code)
        assert selectors.store_is_open_now(loaded) is True
        assert [h.opens for h in selectors.store_hours_today(loaded)] == [time(10, 0)]
    with time_machine.travel(datetime(2025, 1, 11, 3, 0, tzinfo=SHANGHAI), tick=False):
        assert selectors.store_is_open_now(selectors.store_get_public(code=store.code)) is False
    with time_machine.travel(datetime(2025, 1, 11, 12, 0, tzinfo=SHANGHAI), tick=False):
        assert selectors.store_is_open_now(selectors.store_get_public(code=store.code)) is True
        store.is_open = False
        store.save()
        assert selectors.store_is_open_now(selectors.store_get_public(code=store.code)) is False


@pytest.mark.django_db
def test_store_without_hours_follows_its_switch(brand):
    on = StoreFactory(brand=brand, is_open=True)
    off = StoreFactory(brand=brand, is_open=False)
    assert selectors.store_is_open_now(on) is True
    assert selectors.store_is_open_now(off) is False


# --- frozen users see nothing; the public list is chain stores only ---


@pytest.mark.django_db
def test_frozen_staff_and_frozen_superusers_see_no_brand_or_store(hq_manager, store):
    from tests.accounts.factories import UserFactory

    root = UserFactory(phone="13700000008", is_staff=True, is_superuser=True)
    assert selectors.store_ids_visible_to(hq_manager) == {store.pk}
    assert selectors.brand_ids_visible_to(root) is None

    for user in (hq_manager, root):
        user.is_frozen = True
        assert selectors.brand_ids_visible_to(user) == set()
        assert selectors.store_ids_visible_to(user) == set()
        assert not selectors.stores_for_user(user).exists()
        assert selectors.user_manages_whole_brand(user, store.brand_id) is False


@pytest.mark.django_db
def test_public_store_list_and_cities_are_chain_stores_only(brand):
    from stores.models import BrandKind
    from tests.stores.factories import BrandFactory

    canteen = BrandFactory(code="canteen", kind=BrandKind.CANTEEN)
    StoreFactory(brand=brand, code="SH1", city="上海")
    StoreFactory(brand=canteen, code="CT1", city="苏州")

    assert [s.code for s in selectors.store_list_public()] == ["SH1"]
    assert selectors.city_list() == ["上海"]
    assert selectors.store_get_public(code="CT1").brand == canteen
