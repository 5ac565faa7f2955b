from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditEvent
from stores.models import Dish, OptionGroup, Store, StoreDishOverride
from tests.stores.factories import (
    DishFactory,
    MenuCategoryFactory,
    StoreDishOverrideFactory,
    StoreFactory,
    make_staff,
)

pytestmark = pytest.mark.django_db

OVERRIDES = "admin:stores_storedishoverride_changelist"


@pytest.fixture
def world(brand, other_brand, store):
    """Brand "acme" with stores A (SH001), B, C; brand "rival" with one store; overrides everywhere."""
    store_b = StoreFactory(brand=brand, code="SH002", name="B 店")
    store_c = StoreFactory(brand=brand, code="BJ001", name="C 店", city="北京")
    rival_store = StoreFactory(brand=other_brand, code="RV001", name="对手店", city="广州")
    noodle = DishFactory(brand=brand, code="NOODLE", name_zh="拉面")
    rice = DishFactory(brand=brand, code="RICE", name_zh="米饭")
    rival_dish = DishFactory(brand=other_brand, code="RIVALDISH", name_zh="对手菜")
    return {
        "a": store, "b": store_b, "c": store_c, "rival_store": rival_store,
        "noodle": noodle, "rice": rice, "rival_dish": rival_dish,
        "ov_a": StoreDishOverrideFactory(store=store, dish=noodle, price=Decimal("21.00")),
        "ov_b": StoreDishOverrideFactory(store=store_b, dish=noodle, price=Decimal("22.00")),
        "ov_rival": StoreDishOverrideFactory(store=rival_store, dish=rival_dish, price=Decimal("30.00")),
    }


def _change_url(model, pk):
    return reverse(f"admin:stores_{model}_change", args=[pk])


def test_store_manager_sees_only_own_overrides(client, store_manager, world, django_assert_max_num_queries):
    for dish in DishFactory.create_batch(20, brand=world["a"].brand):
        StoreDishOverrideFactory(store=world["a"], dish=dish)
    client.force_login(store_manager)

    with django_assert_max_num_queries(20):
        response = client.get(reverse(OVERRIDES))

    assert response.status_code == 200
    shown = {row.pk for row in response.context["cl"].result_list}
    assert world["ov_a"].pk in shown
    assert world["ov_b"].pk not in shown
    assert world["ov_rival"].pk not in shown
    assert shown == set(StoreDishOverride.objects.filter(store=world["a"]).values_list("pk", flat=True))
    body = response.content.decode()
    assert "SH002" not in body and "RV001" not in body and "广州" not in body
    # effective prices read as money: the store's own 21.00, the brand's 28.00 for the rest
    assert '<td class="field-effective_price_display">21.00</td>' in body
    assert '<td class="field-effective_price_display">28.00</td>' in body


def test_store_manager_cannot_open_or_change_other_store_override(client, store_manager, world):
    client.force_login(store_manager)
    url = _change_url("storedishoverride", world["ov_b"].pk)

    get = client.get(url)
    assert get.status_code in (302, 403, 404)
    assert "22.00" not in get.content.decode()

    post = client.post(url, {"price": "1.00", "is_available": "", "stock": "0", "daily_stock": ""})
    assert post.status_code in (302, 403, 404)
    world["ov_b"].refresh_from_db()
    assert world["ov_b"].price == Decimal("22.00")
    assert world["ov_b"].is_available is True
    assert not AuditEvent.objects.exists()

    # and the other brand's override neither
    assert client.get(_change_url("storedishoverride", world["ov_rival"].pk)).status_code in (302, 403, 404)
    history = reverse("admin:stores_storedishoverride_history", args=[world["ov_b"].pk])
    assert client.get(history).status_code in (302, 403, 404)


def test_store_manager_changes_own_override_through_service(client, store_manager, world):
    client.force_login(store_manager)
    url = _change_url("storedishoverride", world["ov_a"].pk)
    assert client.get(url).status_code == 200

    response = client.post(url, {"price": "19.50", "stock": "8", "daily_stock": "20"})

    assert response.status_code == 302
    world["ov_a"].refresh_from_db()
    assert (world["ov_a"].price, world["ov_a"].is_available, world["ov_a"].stock) == (Decimal("19.50"), False, 8)
    [event] = AuditEvent.objects.filter(action="override.updated")
    assert event.actor_id == store_manager.pk
    assert set(event.data["changes"]) == {"price", "is_available", "stock", "daily_stock"}
    assert world["ov_a"].history.latest().history_user == store_manager


def test_negative_price_in_admin_is_a_form_error(client, store_manager, world):
    client.force_login(store_manager)
    url = _change_url("storedishoverride", world["ov_a"].pk)
    response = client.post(url, {"price": "-3", "is_available": "on"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["price"]
    world["ov_a"].refresh_from_db()
    assert world["ov_a"].price == Decimal("21.00")


def test_store_manager_cannot_see_other_brand_or_other_stores(client, store_manager, world):
    client.force_login(store_manager)
    stores = client.get(reverse("admin:stores_store_changelist"))
    assert [s.code for s in stores.context["cl"].result_list] == ["SH001"]

    dishes = client.get(reverse("admin:stores_dish_changelist"))
    codes = {d.code for d in dishes.context["cl"].result_list}
    assert {"NOODLE", "RICE"} <= codes
    assert "RIVALDISH" not in codes

    assert client.get(_change_url("dish", world["rival_dish"].pk)).status_code in (302, 403, 404)
    assert client.get(_change_url("store", world["b"].pk)).status_code in (302, 403, 404)
    assert client.get(_change_url("store", world["rival_store"].pk)).status_code in (302, 403, 404)


def test_store_manager_can_view_but_not_change_brand_dishes(client, store_manager, world):
    client.force_login(store_manager)
    url = _change_url("dish", world["noodle"].pk)
    assert client.get(url).status_code == 200
    response = client.post(url, {"name_zh": "改名", "price": "1.00"})
    assert response.status_code == 403
    assert Dish.objects.get(pk=world["noodle"].pk).name_zh == "拉面"


def test_hq_manager_of_brand_one_cannot_see_brand_two(client, hq_manager, world):
    client.force_login(hq_manager)
    overrides = client.get(reverse(OVERRIDES))
    assert {o.pk for o in overrides.context["cl"].result_list} == {world["ov_a"].pk, world["ov_b"].pk}
    stores = client.get(reverse("admin:stores_store_changelist"))
    assert {s.code for s in stores.context["cl"].result_list} == {"SH001", "SH002", "BJ001"}
    brands = client.get(reverse("admin:stores_brand_changelist"))
    assert [b.code for b in brands.context["cl"].result_list] == ["acme"]
    assert client.get(_change_url("storedishoverride", world["ov_rival"].pk)).status_code in (302, 403, 404)
    assert client.get(_change_url("brand", world["rival_store"].brand_id)).status_code in (302, 403, 404)
    response = client.post(_change_url("dish", world["rival_dish"].pk), {"name_zh": "x", "price": "1"})
    assert response.status_code in (302, 403, 404)
    assert Dish.objects.get(pk=world["rival_dish"].pk).name_zh == "对手菜"


def test_add_override_form_offers_only_own_stores_and_dishes(client, store_manager, world):
    client.force_login(store_manager)
    response = client.get(reverse("admin:stores_storedishoverride_add"))
    form = response.context["adminform"].form
    assert list(form.fields["store"].queryset) == [world["a"]]
    assert world["rival_dish"] not in form.fields["dish"].queryset

    refused = client.post(
        reverse("admin:stores_storedishoverride_add"),
        {"store": world["b"].pk, "dish": world["rice"].pk, "is_available": "on"},
    )
    assert refused.status_code == 200
    assert "store" in refused.context["adminform"].form.errors
    assert not StoreDishOverride.objects.filter(store=world["b"], dish=world["rice"]).exists()


def test_bulk_sold_out_from_dish_changelist(client, hq_manager, world):
    client.force_login(hq_manager)
    url = reverse("admin:stores_dish_changelist")
    selected = [world["noodle"].pk, world["rice"].pk]
    base = {"action": "bulk_sold_out", ACTION_CHECKBOX_NAME: selected, "index": "0"}

    page = client.post(url, base)
    assert page.status_code == 200
    assert "admin/stores/bulk_override.html" in [t.name for t in page.templates]
    offered = set(page.context["form"].fields["stores"].queryset)
    assert offered == {world["a"], world["b"], world["c"]}
    assert not AuditEvent.objects.exists()

    done = client.post(url, {**base, "apply": "1", "stores": [world["a"].pk, world["b"].pk], "cities": ["北京"]})

    assert done.status_code == 302
    rows = StoreDishOverride.objects.filter(dish__in=selected, store__brand=world["a"].brand)
    assert rows.count() == 6
    assert not rows.filter(is_available=True).exists()
    [event] = AuditEvent.objects.all()
    assert event.action == "override.availability_set"
    assert event.actor_id == hq_manager.pk
    assert sorted(event.data["stores"]) == ["BJ001", "SH001", "SH002"]
    assert world["ov_rival"].__class__.objects.get(pk=world["ov_rival"].pk).is_available is True


def test_bulk_action_refuses_store_outside_scope(client, store_manager, world):
    client.force_login(store_manager)
    url = reverse("admin:stores_dish_changelist")
    response = client.post(url, {
        "action": "bulk_sold_out", ACTION_CHECKBOX_NAME: [world["noodle"].pk], "index": "0",
        "apply": "1", "stores": [world["b"].pk],
    })
    assert response.status_code == 200  # the page again, with the error
    assert "stores" in response.context["form"].errors
    assert not StoreDishOverride.objects.filter(store=world["b"], is_available=False).exists()
    assert not AuditEvent.objects.exists()


def test_bulk_price_from_store_changelist(client, hq_manager, world):
    client.force_login(hq_manager)
    url = reverse("admin:stores_store_changelist")
    response = client.post(url, {
        "action": "bulk_price", ACTION_CHECKBOX_NAME: [world["a"].pk, world["c"].pk], "index": "0",
        "apply": "1", "dishes": [world["rice"].pk], "price": "12.80",
    })
    assert response.status_code == 302
    prices = dict(StoreDishOverride.objects.filter(dish=world["rice"]).values_list("store__code", "price"))
    assert prices == {"SH001": Decimal("12.80"), "BJ001": Decimal("12.80")}
    assert AuditEvent.objects.get().action == "override.price_set"


def test_bulk_price_negative_is_form_error(client, hq_manager, world):
    client.force_login(hq_manager)
    response = client.post(reverse("admin:stores_store_changelist"), {
        "action": "bulk_price", ACTION_CHECKBOX_NAME: [world["a"].pk], "index": "0",
        "apply": "1", "dishes": [world["noodle"].pk], "price": "-1",
    })
    assert response.status_code == 200
    assert "price" in response.context["form"].errors
    assert StoreDishOverride.objects.get(pk=world["ov_a"].pk).price == Decimal("21.00")


def test_override_changelist_action_reset_stock(client, store_manager, world):
    StoreDishOverride.objects.filter(pk=world["ov_a"].pk).delete()
    sold = StoreDishOverrideFactory(store=world["a"], dish=world["rice"], stock=0, daily_stock=12)
    client.force_login(store_manager)
    response = client.post(reverse(OVERRIDES), {
        "action": "reset_stock", ACTION_CHECKBOX_NAME: [sold.pk], "index": "0",
    })
    assert response.status_code == 302
    sold.refresh_from_db()
    assert sold.stock == 12
    assert AuditEvent.objects.get().action == "override.stock_reset"


def test_store_admin_close_through_service(client, store_manager, world):
    client.force_login(store_manager)
    url = _change_url("store", world["a"].pk)
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "is_open"}
    data.update({
        "opening_hours-TOTAL_FORMS": "0", "opening_hours-INITIAL_FORMS": "0",
        "overrides-TOTAL_FORMS": "0", "overrides-INITIAL_FORMS": "0",
    })
    data = {k: v for k, v in data.items() if not isinstance(v, bool) or v}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Store.objects.get(pk=world["a"].pk).is_open is False
    assert AuditEvent.objects.get().action == "store.closed"


def test_hq_adds_dish_into_own_brand(client, hq_manager, world):
    category = MenuCategoryFactory(brand=world["a"].brand, code="mains")
    client.force_login(hq_manager)
    data = {"category": category.pk, "code": "NEW1", "name_zh": "新菜", "price": "18.00", "kcal": "300",
            "protein_g": "1", "fat_g": "1", "carbs_g": "1", "sort_order": "0", "is_active": "on"}
    response = client.post(reverse("admin:stores_dish_add"), data)
    assert response.status_code == 302
    assert Dish.objects.get(code="NEW1").brand_id == world["a"].brand_id

    duplicate = client.post(reverse("admin:stores_dish_add"), {**data, "code": "NOODLE"})
    assert duplicate.status_code == 200
    assert "code" in duplicate.context["adminform"].form.errors


def test_kitchen_staff_has_no_bulk_price_on_other_store(client, brand, world):
    cook = make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[world["a"]])
    client.force_login(cook)
    response = client.get(reverse(OVERRIDES))
    assert {o.pk for o in response.context["cl"].result_list} == {world["ov_a"].pk}


@pytest.mark.parametrize("model", [
    "brand", "store", "menucategory", "dish", "optiongroup", "storedishoverride", "staffassignment", "tag", "allergen",
])
def test_hq_admin_pages_render(client, hq_manager, world, model):
    client.force_login(hq_manager)
    changelist = client.get(reverse(f"admin:stores_{model}_changelist"), {"q": "S"})
    assert changelist.status_code == 200
    assert changelist.context["cl"].result_count >= 0


def test_store_change_page_with_inlines_and_dish_pages_render(client, hq_manager, world):
    client.force_login(hq_manager)
    store_page = client.get(_change_url("store", world["a"].pk))
    assert store_page.status_code == 200
    assert "NOODLE" in store_page.content.decode()
    assert client.get(_change_url("dish", world["noodle"].pk)).status_code == 200
    assert client.get(reverse("admin:stores_dish_add")).status_code == 200
    assert client.get(reverse("admin:stores_store_add")).status_code == 200
    assert client.get(reverse("admin:stores_dish_import")).status_code == 200
    assert client.get(reverse("admin:stores_storedishoverride_history", args=[world["ov_a"].pk])).status_code == 200


def test_store_inline_override_saved_through_service(client, hq_manager, world):
    client.force_login(hq_manager)
    url = _change_url("store", world["a"].pk)
    page = client.get(url)
    form = page.context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value not in (None, False)}
    data.update({
        "opening_hours-TOTAL_FORMS": "0", "opening_hours-INITIAL_FORMS": "0",
        "overrides-TOTAL_FORMS": "2", "overrides-INITIAL_FORMS": "1",
        "overrides-0-id": world["ov_a"].pk, "overrides-0-store": world["a"].pk,
        "overrides-0-dish": world["noodle"].pk, "overrides-0-price": "23.00", "overrides-0-is_available": "on",
        "overrides-1-store": world["a"].pk, "overrides-1-dish": world["rival_dish"].pk,
        "overrides-1-price": "1.00",
    })
    refused = client.post(url, data)
    assert refused.status_code == 200  # the other brand's dish is not a valid choice
    assert StoreDishOverride.objects.get(pk=world["ov_a"].pk).price == Decimal("21.00")

    data["overrides-1-dish"] = world["rice"].pk
    response = client.post(url, data)

    assert response.status_code == 302
    assert StoreDishOverride.objects.get(pk=world["ov_a"].pk).price == Decimal("23.00")
    assert StoreDishOverride.objects.get(store=world["a"], dish=world["rice"]).price == Decimal("1.00")
    assert sorted(AuditEvent.objects.values_list("action", flat=True)) == ["override.created", "override.updated"]


# --- review fixes ---


@pytest.fixture
def cook(brand, world):
    return make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[world["a"]], phone="13700000005")


@pytest.fixture
def root(db):
    from tests.accounts.factories import UserFactory

    return UserFactory(phone="13700000008", is_staff=True, is_superuser=True)


def test_revert_from_history_is_refused_and_changes_nothing(client, root, world):
    override = world["ov_a"]
    version = override.history.earliest()
    services_changed = StoreDishOverride.objects.filter(pk=override.pk)
    services_changed.update(price=Decimal("30.00"))
    client.force_login(root)
    url = reverse("admin:stores_storedishoverride_simple_history", args=[override.pk, version.history_id])

    page = client.get(url)
    posted = client.post(url, {"price": "21.00", "is_available": "on", "store": world["a"].pk,
                               "dish": world["noodle"].pk})

    assert page.status_code == 200
    assert page.context["revert_disabled"] is True
    assert posted.status_code == 403
    assert StoreDishOverride.objects.get(pk=override.pk).price == Decimal("30.00")
    dish_version = world["noodle"].history.earliest()
    dish_url = reverse("admin:stores_dish_simple_history", args=[world["noodle"].pk, dish_version.history_id])
    assert client.post(dish_url, {"code": "NOODLE", "name_zh": "改", "price": "1.00"}).status_code == 403
    assert Dish.objects.get(pk=world["noodle"].pk).name_zh == "拉面"


@pytest.mark.parametrize("model", ["store", "dish", "menucategory", "optiongroup"])
def test_brand_is_read_only_on_existing_rows_even_for_superusers(client, root, world, model):
    from tests.stores.factories import OptionGroupFactory

    obj = {
        "store": world["a"], "dish": world["noodle"], "menucategory": world["noodle"].category,
        "optiongroup": OptionGroupFactory(brand=world["a"].brand),
    }[model]
    client.force_login(root)

    change = client.get(_change_url(model, obj.pk))
    add = client.get(reverse(f"admin:stores_{model}_add"))

    assert "brand" not in change.context["adminform"].form.fields
    assert "brand" in add.context["adminform"].form.fields


def test_superuser_store_form_cannot_move_a_store(client, root, world):
    client.force_login(root)
    url = _change_url("store", world["a"].pk)
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value not in (None, False)}
    data.update({
        "brand": world["rival_store"].brand_id, "name": "改名",
        "opening_hours-TOTAL_FORMS": "0", "opening_hours-INITIAL_FORMS": "0",
        "overrides-TOTAL_FORMS": "0", "overrides-INITIAL_FORMS": "0",
    })

    response = client.post(url, data)

    assert response.status_code == 302
    store = Store.objects.get(pk=world["a"].pk)
    assert (store.brand_id, store.name) == (world["a"].brand_id, "改名")


def test_kitchen_staff_sees_price_read_only_and_no_price_actions(client, cook, world):
    client.force_login(cook)

    change = client.get(_change_url("storedishoverride", world["ov_a"].pk))
    dishes = client.get(reverse("admin:stores_dish_changelist"))
    stores = client.get(reverse("admin:stores_store_changelist"))

    assert "price" not in change.context["adminform"].form.fields
    assert "is_available" in change.context["adminform"].form.fields
    for page in (dishes, stores):
        actions = [name for name, _label in page.context["action_form"].fields["action"].choices]
        assert "bulk_price" not in actions and "bulk_sold_out" in actions


def test_kitchen_staff_admin_post_keeps_the_price(client, cook, world):
    client.force_login(cook)
    url = _change_url("storedishoverride", world["ov_a"].pk)

    response = client.post(url, {"price": "1.00", "stock": "7"})
    bulk = client.post(reverse("admin:stores_store_changelist"), {
        "action": "bulk_price", ACTION_CHECKBOX_NAME: [world["a"].pk], "index": "0",
        "apply": "1", "dishes": [world["noodle"].pk], "price": "1.00",
    })

    assert response.status_code == 302
    row = StoreDishOverride.objects.get(pk=world["ov_a"].pk)
    assert (row.price, row.stock, row.is_available) == (Decimal("21.00"), 7, False)
    assert bulk.status_code in (200, 302)
    assert StoreDishOverride.objects.get(pk=world["ov_a"].pk).price == Decimal("21.00")
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["override.updated"]


def test_hq_adds_a_store_with_hours_and_an_override_in_one_save(client, hq_manager, world):
    client.force_login(hq_manager)
    response = client.post(reverse("admin:stores_store_add"), {
        "code": "SH009", "name": "新店", "city": "上海", "address": "路 1 号", "latitude": "31.2", "longitude": "121.4",
        "prep_time_minutes": "15", "delivery_radius_km": "3.00", "offers_pickup": "on", "is_open": "on",
        "opening_hours-TOTAL_FORMS": "1", "opening_hours-INITIAL_FORMS": "0",
        "opening_hours-0-weekday": "0", "opening_hours-0-opens": "10:00", "opening_hours-0-closes": "14:00",
        "overrides-TOTAL_FORMS": "1", "overrides-INITIAL_FORMS": "0",
        "overrides-0-dish": world["rice"].pk, "overrides-0-price": "9.90", "overrides-0-is_available": "on",
    })

    assert response.status_code == 302
    store = Store.objects.get(code="SH009")
    assert store.brand_id == world["a"].brand_id
    assert [(h.brand_id, h.weekday) for h in store.opening_hours.all()] == [(store.brand_id, 0)]
    assert StoreDishOverride.objects.get(store=store, dish=world["rice"]).price == Decimal("9.90")
    assert list(AuditEvent.objects.order_by("seq").values_list("action", flat=True)) == [
        "store.created", "override.created",
    ]


def test_hq_adds_an_option_group_with_options_that_carry_its_brand(client, hq_manager, world):
    client.force_login(hq_manager)
    response = client.post(reverse("admin:stores_optiongroup_add"), {
        "code": "size", "name_zh": "规格", "name_en": "Size", "min_choices": "1", "max_choices": "1",
        "sort_order": "0",
        "options-TOTAL_FORMS": "2", "options-INITIAL_FORMS": "0",
        "options-0-name_zh": "小份", "options-0-name_en": "Small", "options-0-price_delta": "0.00",
        "options-0-sort_order": "0",
        "options-1-name_zh": "大份", "options-1-name_en": "Large", "options-1-price_delta": "4.00",
        "options-1-sort_order": "1",
    })

    assert response.status_code == 302
    group = OptionGroup.objects.get(code="size")
    assert group.brand_id == world["a"].brand_id
    assert [(o.name_en, o.price_delta, o.brand_id) for o in group.options.order_by("sort_order")] == [
        ("Small", Decimal("0.00"), group.brand_id),
        ("Large", Decimal("4.00"), group.brand_id),
    ]


# --- brand-wide menu edits go through the menu services and are audited ---


def _change_form_data(page) -> dict:
    """The POST data of an admin change form as it was rendered (no inline rows)."""
    data = {}
    for name, value in page.context["adminform"].form.initial.items():
        if value is None or value is False:
            continue
        if isinstance(value, list):
            data[name] = [getattr(item, "pk", item) for item in value]
        elif value is True:
            data[name] = "on"
        else:
            data[name] = getattr(value, "pk", value)
    return data


def test_hq_changes_a_dish_price_in_the_admin_writes_one_price_event(client, hq_manager, world):
    noodle = world["noodle"]
    client.force_login(hq_manager)
    url = _change_url("dish", noodle.pk)
    data = _change_form_data(client.get(url))

    response = client.post(url, {**data, "price": "25.50"}, REMOTE_ADDR="10.0.0.9")

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Dish.objects.get(pk=noodle.pk).price == Decimal("25.50")
    [event] = AuditEvent.objects.all()
    assert event.action == "dish.price_changed"
    assert (event.actor_id, event.brand_id, event.object_id) == (hq_manager.pk, noodle.brand_id, str(noodle.pk))
    assert event.amount == Decimal("25.50")
    assert (event.data["old_price"], event.data["new_price"]) == ("28.00", "25.50")
    assert event.data["changed"] == ["price"]
    assert event.ip == "10.0.0.9"
    latest = noodle.history.latest()
    assert (latest.price, latest.history_user) == (Decimal("25.50"), hq_manager)


def test_hq_renames_a_dish_in_the_admin_writes_dish_updated_only(client, hq_manager, world):
    noodle = world["noodle"]
    client.force_login(hq_manager)
    url = _change_url("dish", noodle.pk)
    data = _change_form_data(client.get(url))

    response = client.post(url, {**data, "name_en": "Ramen"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    dish = Dish.objects.get(pk=noodle.pk)
    assert (dish.name_en, dish.price) == ("Ramen", Decimal("28.00"))
    [event] = AuditEvent.objects.all()
    assert event.action == "dish.updated"
    assert event.data["changed"] == ["name_en"]
    assert event.amount is None
    assert not AuditEvent.objects.filter(action="dish.price_changed").exists()


def test_hq_adds_a_dish_with_tags_in_one_audited_save(client, hq_manager, world):
    from stores.models import Tag

    spicy, _ = Tag.objects.get_or_create(code="spicy", defaults={"name_zh": "辣", "name_en": "Spicy"})
    light, _ = Tag.objects.get_or_create(code="light", defaults={"name_zh": "轻食", "name_en": "Light"})
    category = world["noodle"].category
    client.force_login(hq_manager)

    response = client.post(reverse("admin:stores_dish_add"), {
        "category": category.pk, "code": "NEW2", "name_zh": "辣面", "price": "19.00", "kcal": "400",
        "protein_g": "1", "fat_g": "1", "carbs_g": "1", "sort_order": "0", "is_active": "on",
        "tags": ["spicy", "light"],
    })

    assert response.status_code == 302, response.context["adminform"].form.errors
    dish = Dish.objects.get(code="NEW2")
    assert dish.brand_id == world["a"].brand_id
    assert set(dish.tags.all()) == {spicy, light}
    [event] = AuditEvent.objects.all()
    assert (event.action, event.object_id, event.amount) == ("dish.created", str(dish.pk), Decimal("19.00"))
    assert dish.history.filter(history_type="+", history_user=hq_manager).exists()


def test_hq_changes_an_option_price_delta_in_the_admin(client, hq_manager, world):
    from tests.stores.factories import OptionFactory, OptionGroupFactory

    group = OptionGroupFactory(brand=world["a"].brand, code="size")
    small = OptionFactory(group=group, name_zh="小份", name_en="Small", price_delta=Decimal("0.00"))
    large = OptionFactory(group=group, name_zh="大份", name_en="Large", price_delta=Decimal("3.00"), sort_order=1)
    client.force_login(hq_manager)
    url = _change_url("optiongroup", group.pk)
    data = _change_form_data(client.get(url))
    data.update({"options-TOTAL_FORMS": "2", "options-INITIAL_FORMS": "2"})
    for i, option in enumerate((small, large)):
        data.update({
            f"options-{i}-id": option.pk, f"options-{i}-group": group.pk, f"options-{i}-name_zh": option.name_zh,
            f"options-{i}-name_en": option.name_en, f"options-{i}-price_delta": str(option.price_delta),
            f"options-{i}-sort_order": str(option.sort_order),
        })
    data["options-1-price_delta"] = "4.50"

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    large.refresh_from_db()
    assert large.price_delta == Decimal("4.50")
    [event] = AuditEvent.objects.all()
    assert (event.action, event.object_id) == ("option_group.updated", str(group.pk))
    assert event.data["changed"] == ["options"]
    assert event.data["options"] == {
        "price_changed": [{"option": large.pk, "name": "大份", "old": "3.00", "new": "4.50"}],
    }


def test_store_manager_posting_a_dish_change_is_refused_and_not_audited(client, store_manager, world):
    noodle = world["noodle"]
    client.force_login(store_manager)
    url = _change_url("dish", noodle.pk)
    data = _change_form_data(client.get(url))

    response = client.post(url, {**data, "price": "1.00", "name_zh": "改名"})

    assert response.status_code == 403
    dish = Dish.objects.get(pk=noodle.pk)
    assert (dish.price, dish.name_zh) == (Decimal("28.00"), "拉面")
    assert not AuditEvent.objects.exists()
    assert noodle.history.count() == 1
