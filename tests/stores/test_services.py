from decimal import Decimal

import pytest

from accounts.models import Role
from audit.models import AuditEvent
from stores import services
from stores.models import Store, StoreDishOverride
from tests.accounts.factories import UserFactory
from tests.stores.factories import DishFactory, StoreDishOverrideFactory, StoreFactory, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def stores(brand, store):
    return [store, StoreFactory(brand=brand, code="SH002"), StoreFactory(brand=brand, code="BJ001", city="北京")]


@pytest.fixture
def dishes(brand):
    return [DishFactory(brand=brand, code="NOODLE", price=Decimal("20.00")),
            DishFactory(brand=brand, code="RICE", price=Decimal("15.50"))]


def events(action):
    return list(AuditEvent.objects.filter(action=action))


def test_set_availability_creates_missing_and_updates_existing(hq_manager, stores, dishes):
    existing = StoreDishOverrideFactory(store=stores[0], dish=dishes[0], price=Decimal("19.00"))

    result = services.override_set_availability(
        actor=hq_manager, stores=stores, dishes=dishes, available=False, ip="10.0.0.1"
    )

    assert len(result.created) == 5
    assert [o.pk for o in result.updated] == [existing.pk]
    rows = StoreDishOverride.objects.filter(store__in=stores, dish__in=dishes)
    assert rows.count() == 6
    assert not rows.filter(is_available=True).exists()
    existing.refresh_from_db()
    assert existing.price == Decimal("19.00")  # other fields untouched
    assert all(o.brand_id == stores[0].brand_id for o in rows)
    # history: one "+" row per created override, one "~" row for the updated one
    history = StoreDishOverride.history.filter(id__in=rows.values("id"))
    assert history.filter(history_type="+", history_user=hq_manager).count() == 5
    assert history.filter(history_type="~", id=existing.pk, is_available=False).count() == 1
    [event] = events("override.availability_set")
    assert event.actor_id == hq_manager.pk
    assert event.ip == "10.0.0.1"
    assert event.brand_id == stores[0].brand_id
    assert event.data["created"] == 5
    assert event.data["updated"] == 1
    assert sorted(event.data["stores"]) == ["BJ001", "SH001", "SH002"]
    assert sorted(event.data["dishes"]) == ["NOODLE", "RICE"]
    assert event.data["is_available"] is False


def test_second_identical_call_changes_nothing(hq_manager, stores, dishes):
    services.override_set_availability(actor=hq_manager, stores=stores, dishes=dishes, available=False)
    again = services.override_set_availability(actor=hq_manager, stores=stores, dishes=dishes, available=False)
    assert again.count == 0
    assert again.unchanged == 6
    assert StoreDishOverride.history.count() == 6


def test_set_price_and_inherit(hq_manager, stores, dishes):
    result = services.override_set_price(actor=hq_manager, stores=stores[:2], dishes=dishes[:1], price=Decimal("18.80"))
    assert result.count == 2
    override = StoreDishOverride.objects.get(store=stores[0], dish=dishes[0])
    assert override.price == Decimal("18.80")
    assert override.effective_price() == Decimal("18.80")

    services.override_set_price(actor=hq_manager, stores=stores[:2], dishes=dishes[:1], price=None)
    override.refresh_from_db()
    assert override.price is None
    assert override.effective_price() == Decimal("20.00")
    assert [e.data["price"] for e in events("override.price_set")] == [None, "18.80"]


@pytest.mark.parametrize("bad", [Decimal("-0.01"), "abc", Decimal("1.234"), 1.5, Decimal("NaN")])
def test_bad_price_refused_and_nothing_written(hq_manager, stores, dishes, bad):
    with pytest.raises(services.InvalidOverrideValue):
        services.override_set_price(actor=hq_manager, stores=stores, dishes=dishes, price=bad)
    assert not StoreDishOverride.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.usefixtures("english")
def test_negative_price_message(hq_manager, stores, dishes):
    with pytest.raises(services.InvalidOverrideValue) as excinfo:
        services.override_set_price(actor=hq_manager, stores=stores, dishes=dishes, price=Decimal("-1"))
    assert excinfo.value.status_code == 400
    assert "negative" in str(excinfo.value.message)


def test_cross_brand_refused(hq_manager, stores, dishes, other_brand):
    foreign_dish = DishFactory(brand=other_brand, code="RIVAL")
    foreign_store = StoreFactory(brand=other_brand, code="RV001")
    with pytest.raises(services.StoreAccessDenied) as excinfo:
        services.override_set_availability(actor=hq_manager, stores=stores, dishes=[foreign_dish], available=False)
    assert excinfo.value.code == "not_yours"
    with pytest.raises(services.StoreAccessDenied):
        services.override_set_availability(actor=hq_manager, stores=[foreign_store], dishes=dishes, available=False)
    assert not StoreDishOverride.objects.exists()


def test_superuser_mixing_brands_refused(stores, dishes, other_brand):
    admin = UserFactory(phone="13600000000", is_staff=True, is_superuser=True, role=Role.HQ_MANAGER)
    foreign_store = StoreFactory(brand=other_brand, code="RV001")
    with pytest.raises(services.MixedBrands):
        services.override_set_availability(actor=admin, stores=[*stores, foreign_store], dishes=dishes, available=False)
    assert not StoreDishOverride.objects.exists()


def test_store_manager_limited_to_own_store(store_manager, stores, dishes):
    result = services.override_set_availability(actor=store_manager, stores=[stores[0]], dishes=dishes, available=False)
    assert result.count == 2
    with pytest.raises(services.StoreAccessDenied):
        services.override_set_availability(actor=store_manager, stores=stores, dishes=dishes, available=True)
    assert StoreDishOverride.objects.filter(is_available=False).count() == 2


def test_customer_refused(customer, stores, dishes):
    with pytest.raises(services.StoreAccessDenied):
        services.override_set_availability(actor=customer, stores=stores, dishes=dishes, available=False)


def test_set_stock_and_reset(hq_manager, stores, dishes):
    services.override_set_stock(actor=hq_manager, stores=stores, dishes=dishes[:1], stock=3, daily_stock=50)
    services.override_set_stock(actor=hq_manager, stores=stores[:1], dishes=dishes[1:], stock=7)  # no daily stock
    assert StoreDishOverride.objects.get(store=stores[0], dish=dishes[1]).daily_stock is None

    result = services.override_reset_stock(actor=hq_manager, stores=stores)

    assert result.count == 3
    assert set(StoreDishOverride.objects.filter(dish=dishes[0]).values_list("stock", flat=True)) == {50}
    # no daily stock: left as it is
    assert StoreDishOverride.objects.get(store=stores[0], dish=dishes[1]).stock == 7
    [event] = events("override.stock_reset")
    assert event.data["updated"] == 3
    assert event.actor_id == hq_manager.pk
    assert event.data == {"updated": 3, "unchanged": 0, "stores": ["BJ001", "SH001", "SH002"], "dishes": ["NOODLE"]}


def test_negative_stock_refused(hq_manager, stores, dishes):
    with pytest.raises(services.InvalidOverrideValue):
        services.override_set_stock(actor=hq_manager, stores=stores, dishes=dishes, stock=-1)
    assert not StoreDishOverride.objects.exists()


def test_override_update_single_row_writes_history_and_audit(store_manager, store, dishes):
    override = StoreDishOverrideFactory(store=store, dish=dishes[0])
    updated = services.override_update(
        actor=store_manager, override=override, price=Decimal("9.90"), stock=4, ip="10.1.1.1"
    )
    assert updated.price == Decimal("9.90")
    assert updated.stock == 4
    latest = override.history.latest()
    assert latest.history_user == store_manager
    assert latest.price == Decimal("9.90")
    [event] = events("override.updated")
    assert event.data["changes"]["price"] == {"from": None, "to": "9.90"}
    assert event.object_id == str(override.pk)


def test_override_update_other_store_refused(store_manager, stores, dishes):
    foreign = StoreDishOverrideFactory(store=stores[1], dish=dishes[0], price=Decimal("10.00"))
    with pytest.raises(services.StoreAccessDenied):
        services.override_update(actor=store_manager, override=foreign, price=Decimal("1.00"))
    foreign.refresh_from_db()
    assert foreign.price == Decimal("10.00")
    assert not events("override.updated")


def test_override_set_creates_then_updates(store_manager, store, dishes):
    created = services.override_set(actor=store_manager, store=store, dish=dishes[0], is_available=False)
    assert created.pk is not None and created.is_available is False
    again = services.override_set(actor=store_manager, store=store, dish=dishes[0], stock=2)
    assert again.pk == created.pk and again.stock == 2
    assert [e.action for e in AuditEvent.objects.order_by("seq")] == ["override.created", "override.updated"]


def test_overrides_apply_only_selected_rows(hq_manager, stores, dishes):
    chosen = StoreDishOverrideFactory(store=stores[0], dish=dishes[0], stock=0, daily_stock=20)
    other = StoreDishOverrideFactory(store=stores[1], dish=dishes[0], stock=0, daily_stock=20)
    result = services.overrides_apply(actor=hq_manager, overrides=[chosen], action="reset_stock")
    assert result.count == 1
    chosen.refresh_from_db()
    other.refresh_from_db()
    assert (chosen.stock, other.stock) == (20, 0)
    assert len(events("override.stock_reset")) == 1
    [event] = events("override.stock_reset")
    assert event.data == {"updated": 1, "unchanged": 0, "stores": ["SH001"], "dishes": ["NOODLE"]}

    services.overrides_apply(actor=hq_manager, overrides=[chosen, other], action="sold_out")
    [event] = events("override.availability_set")
    assert event.data == {
        "is_available": False, "updated": 2, "unchanged": 0, "stores": ["SH001", "SH002"], "dishes": ["NOODLE"],
    }


def test_store_set_open_writes_event(store_manager, store):
    closed = services.store_set_open(actor=store_manager, store=store, is_open=False, ip="10.0.0.9")
    assert closed.is_open is False
    assert Store.objects.get(pk=store.pk).is_open is False
    assert [e.action for e in AuditEvent.objects.all()] == ["store.closed"]
    services.store_set_open(actor=store_manager, store=store, is_open=False)  # no change, no event
    services.store_set_open(actor=store_manager, store=store, is_open=True)
    assert sorted(e.action for e in AuditEvent.objects.all()) == ["store.closed", "store.opened"]


def test_kitchen_staff_cannot_close_store(brand, store):
    cook = make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[store])
    with pytest.raises(services.StoreAccessDenied):
        services.store_set_open(actor=cook, store=store, is_open=False)
    assert Store.objects.get(pk=store.pk).is_open is True


def test_stock_restore_daily_twice_is_harmless(hq_manager, stores, dishes, other_brand):
    services.override_set_stock(actor=hq_manager, stores=stores, dishes=dishes, stock=0, daily_stock=30)
    rival = StoreDishOverrideFactory(store=StoreFactory(brand=other_brand), stock=1, daily_stock=5)
    unlimited = StoreDishOverrideFactory(store=stores[0], dish=DishFactory(brand=stores[0].brand), stock=None)

    first = services.stock_restore_daily()
    second = services.stock_restore_daily()

    assert first.count == 7
    assert second.count == 0
    assert set(StoreDishOverride.objects.filter(dish__in=dishes).values_list("stock", flat=True)) == {30}
    rival.refresh_from_db()
    unlimited.refresh_from_db()
    assert rival.stock == 5
    assert unlimited.stock is None
    restored = events("stock.daily_restored")
    assert len(restored) == 4  # one per brand per run
    assert {e.actor_type for e in restored} == {"task"}
    assert sorted(e.data["updated"] for e in restored) == [0, 0, 1, 6]


@pytest.mark.slow
def test_bulk_200_stores_60_dishes_query_count(hq_manager, brand, django_assert_max_num_queries):
    stores = StoreFactory.create_batch(200, brand=brand)
    dishes = DishFactory.create_batch(60, brand=brand)
    # batches of 500 rows: 24 inserts + 24 history inserts + a few reads, locks and the audit event
    with django_assert_max_num_queries(70):
        result = services.override_set_availability(actor=hq_manager, stores=stores, dishes=dishes, available=False)
    assert len(result.created) == 12_000
    assert StoreDishOverride.history.count() == 12_000
    with django_assert_max_num_queries(70):
        again = services.override_set_price(actor=hq_manager, stores=stores, dishes=dishes, price=Decimal("9.00"))
    assert len(again.updated) == 12_000
    assert len(events("override.price_set")) == 1


# --- store prices need their own permission (kitchen staff mark sold out, set stock) ---


@pytest.fixture
def cook(brand, store):
    return make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[store], phone="13700000005")


def test_kitchen_staff_cannot_set_a_price(cook, store, dishes):
    existing = StoreDishOverrideFactory(store=store, dish=dishes[0], price=Decimal("19.00"))

    with pytest.raises(services.StoreAccessDenied):
        services.override_set_price(actor=cook, stores=[store], dishes=dishes, price=Decimal("1.00"))
    with pytest.raises(services.StoreAccessDenied):
        services.override_update(actor=cook, override=existing, price=Decimal("1.00"))
    with pytest.raises(services.StoreAccessDenied):
        services.override_set(actor=cook, store=store, dish=dishes[1], price=Decimal("1.00"))

    existing.refresh_from_db()
    assert existing.price == Decimal("19.00")
    assert not StoreDishOverride.objects.filter(dish=dishes[1]).exists()
    assert not AuditEvent.objects.exists()


def test_kitchen_staff_still_marks_sold_out_and_sets_stock(cook, store, dishes):
    existing = StoreDishOverrideFactory(store=store, dish=dishes[0], price=Decimal("19.00"))

    services.override_set_availability(actor=cook, stores=[store], dishes=dishes, available=False)
    services.override_set_stock(actor=cook, stores=[store], dishes=[dishes[0]], stock=3, daily_stock=10)
    # sending the unchanged price along is no price change
    services.override_update(actor=cook, override=existing, price=Decimal("19.00"), stock=2)

    existing.refresh_from_db()
    assert (existing.price, existing.is_available, existing.stock, existing.daily_stock) == (
        Decimal("19.00"), False, 2, 10
    )
    assert not StoreDishOverride.objects.get(dish=dishes[1]).is_available


def test_managers_may_set_prices(hq_manager, store_manager):
    assert services.may_set_price(hq_manager) and services.may_set_price(store_manager)


# --- the brand of a store is fixed ---


def test_store_save_refuses_a_brand_change_even_for_a_superuser(store, other_brand):
    root = UserFactory(phone="13700000007", is_staff=True, is_superuser=True)
    moved = Store.objects.get(pk=store.pk)
    moved.brand = other_brand

    with pytest.raises(services.BrandImmutable):
        services.store_save(actor=root, store=moved, changed=["brand"])

    assert Store.objects.get(pk=store.pk).brand_id == store.brand_id
    assert not AuditEvent.objects.exists()


# --- frozen staff act on nothing ---


def test_frozen_staff_and_frozen_superuser_are_refused(hq_manager, stores, dishes):
    root = UserFactory(phone="13700000008", is_staff=True, is_superuser=True)
    for user in (hq_manager, root):
        user.is_frozen, user.frozen_reason = True, "left the company"
        with pytest.raises(services.StoreAccessDenied):
            services.override_set_availability(actor=user, stores=stores, dishes=dishes, available=False)
        with pytest.raises(services.StoreAccessDenied):
            services.store_set_open(actor=user, store=stores[0], is_open=False)
    assert not StoreDishOverride.objects.exists()
    assert Store.objects.get(pk=stores[0].pk).is_open


# --- the audit event is the last write of its transaction ---


def _writes(queries) -> list[str]:
    """The tables written (or locked) by each query, in order."""
    found = []
    for query in queries:
        sql = query["sql"]
        if sql.startswith(("INSERT", "UPDATE", "DELETE")) or "FOR UPDATE" in sql:
            table = next((t for t in ("audit_auditchain", "audit_auditevent", "stores_historical",
                                      "stores_storedishoverride", "stores_store", "stores_openinghours")
                          if f'"{t}' in sql), "other")
            found.append(table)
    return found


def test_store_save_writes_store_then_overrides_then_audit(hq_manager, store, dishes):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    existing = StoreDishOverrideFactory(store=store, dish=dishes[0], stock=5)
    edited = Store.objects.get(pk=store.pk)
    edited.name, edited.is_open = "新名字", False
    edits = [services.OverrideEdit(values={"stock": 1}, override=existing),
             services.OverrideEdit(values={"is_available": False}, dish=dishes[1])]

    with CaptureQueriesContext(connection) as captured:
        services.store_save(actor=hq_manager, store=edited, changed=["name", "is_open"], overrides=edits)

    writes = _writes(captured.captured_queries)
    first_audit = writes.index("audit_auditchain")
    assert set(writes[first_audit:]) <= {"audit_auditchain", "audit_auditevent"}
    assert "stores_storedishoverride" in writes[:first_audit] and "stores_store" in writes[:first_audit]
    assert sorted(AuditEvent.objects.values_list("action", flat=True)) == [
        "override.created", "override.updated", "store.closed", "store.updated",
    ]
    existing.refresh_from_db()
    assert existing.stock == 1
    assert not StoreDishOverride.objects.get(store=store, dish=dishes[1]).is_available
    assert Store.objects.get(pk=store.pk).is_open is False


def test_override_delete_audits_after_the_delete(hq_manager, store, dishes):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    override = StoreDishOverrideFactory(store=store, dish=dishes[0])
    pk = override.pk

    with CaptureQueriesContext(connection) as captured:
        services.override_delete(actor=hq_manager, override=override)

    writes = _writes(captured.captured_queries)
    assert writes.index("audit_auditchain") > max(i for i, t in enumerate(writes) if t == "stores_storedishoverride")
    event = AuditEvent.objects.get(action="override.deleted")
    assert event.object_id == str(pk)
    assert not StoreDishOverride.objects.filter(pk=pk).exists()


# --- brand-wide menu saves: HQ of the brand only, brand fixed, one audit event last ---


@pytest.fixture
def rival_hq(other_brand):
    return make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000031")


def test_menu_services_refuse_an_hq_manager_of_another_brand(rival_hq, brand, dishes):
    from stores.models import Dish, MenuCategory, OptionGroup
    from tests.stores.factories import MenuCategoryFactory, OptionGroupFactory

    dish = Dish.objects.get(pk=dishes[0].pk)
    dish.price = Decimal("1.00")
    category = MenuCategory.objects.get(pk=dishes[0].category_id)
    category.name_zh = "被改"
    group = OptionGroupFactory(brand=brand)
    group.name_zh = "被改"
    new_category = MenuCategoryFactory.build(brand=brand, code="intruder")
    called = []

    calls = [
        lambda: services.dish_save(actor=rival_hq, dish=dish, changed=["price"],
                                   save_related=lambda: called.append("dish")),
        lambda: services.category_save(actor=rival_hq, category=category, changed=["name_zh"]),
        lambda: services.option_group_save(actor=rival_hq, group=group, changed=["name_zh"],
                                           save_children=lambda g: called.append("group")),
        lambda: services.category_save(actor=rival_hq, category=new_category),
    ]
    for call in calls:
        with pytest.raises(services.StoreAccessDenied) as refused:
            call()
        assert refused.value.status_code == 403

    assert called == []
    assert Dish.objects.get(pk=dish.pk).price == Decimal("20.00")
    assert MenuCategory.objects.get(pk=category.pk).name_zh != "被改"
    assert OptionGroup.objects.get(pk=group.pk).name_zh != "被改"
    assert not MenuCategory.objects.filter(code="intruder").exists()
    assert not AuditEvent.objects.exists()


def test_menu_services_refuse_a_store_manager(store_manager, dishes):
    from stores.models import Dish

    dish = Dish.objects.get(pk=dishes[0].pk)
    dish.price = Decimal("1.00")

    with pytest.raises(services.StoreAccessDenied):
        services.dish_save(actor=store_manager, dish=dish, changed=["price"])

    assert Dish.objects.get(pk=dish.pk).price == Decimal("20.00")
    assert not AuditEvent.objects.exists()


def test_dish_save_refuses_a_brand_change_even_for_a_superuser(dishes, other_brand):
    from stores.models import Dish

    root = UserFactory(phone="13700000032", is_staff=True, is_superuser=True)
    moved = Dish.objects.get(pk=dishes[0].pk)
    moved.brand = other_brand

    with pytest.raises(services.BrandImmutable):
        services.dish_save(actor=root, dish=moved, changed=["brand"])

    assert Dish.objects.get(pk=moved.pk).brand_id == dishes[0].brand_id
    assert not AuditEvent.objects.exists()


def test_dish_save_price_change_writes_dish_then_one_audit_event(hq_manager, dishes):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from stores.models import Dish

    dish = Dish.objects.get(pk=dishes[0].pk)
    dish.price, dish.name_zh = Decimal("22.00"), "新拉面"

    with CaptureQueriesContext(connection) as captured:
        services.dish_save(actor=hq_manager, dish=dish, changed=["price", "name_zh"], ip="10.0.0.2")

    writes = _writes(captured.captured_queries)
    first_audit = writes.index("audit_auditchain")
    assert set(writes[first_audit:]) <= {"audit_auditchain", "audit_auditevent"}
    assert "stores_historical" in writes[:first_audit]
    [event] = AuditEvent.objects.all()
    assert (event.action, event.amount, event.ip) == ("dish.price_changed", Decimal("22.00"), "10.0.0.2")
    assert event.data == {"dish": "NOODLE", "changed": ["name_zh", "price"],
                          "old_price": "20.00", "new_price": "22.00"}
    assert Dish.history.filter(id=dish.pk).latest().history_user == hq_manager


def test_dish_save_without_changes_writes_no_event(hq_manager, dishes):
    from stores.models import Dish

    dish = Dish.objects.get(pk=dishes[0].pk)
    services.dish_save(actor=hq_manager, dish=dish, changed=[])

    assert not AuditEvent.objects.exists()
    assert Dish.history.filter(id=dish.pk).count() == 1


def test_option_group_save_lists_created_deleted_and_repriced_options(hq_manager, brand):
    from stores.models import Option, OptionGroup
    from tests.stores.factories import OptionFactory, OptionGroupFactory

    group = OptionGroupFactory(brand=brand, code="size")
    kept = OptionFactory(group=group, name_zh="中份", price_delta=Decimal("1.00"))
    dropped = OptionFactory(group=group, name_zh="小份", price_delta=Decimal("0.00"))
    edited = OptionGroup.objects.get(pk=group.pk)
    edited.max_choices = 2

    def save_children(saved):
        Option.objects.filter(pk=dropped.pk).delete()
        row = Option.objects.get(pk=kept.pk)
        row.price_delta = Decimal("2.00")
        row.save()
        Option.objects.create(brand_id=saved.brand_id, group=saved, name_zh="大份", price_delta=Decimal("5.00"))

    services.option_group_save(actor=hq_manager, group=edited, changed=["max_choices", "options"],
                               save_children=save_children)

    created = Option.objects.get(group=group, name_zh="大份")
    [event] = AuditEvent.objects.all()
    assert event.action == "option_group.updated"
    assert event.data == {
        "group": "size",
        "changed": ["max_choices", "options"],
        "options": {
            "created": [{"option": created.pk, "name": "大份", "price_delta": "5.00"}],
            "deleted": [{"option": dropped.pk, "name": "小份", "price_delta": "0.00"}],
            "price_changed": [{"option": kept.pk, "name": "中份", "old": "1.00", "new": "2.00"}],
        },
    }
    assert OptionGroup.objects.get(pk=group.pk).max_choices == 2


def test_category_save_creates_and_updates_with_events(hq_manager, brand):
    from stores.models import MenuCategory

    category = MenuCategory(brand=brand, code="soups", name_zh="汤")
    services.category_save(actor=hq_manager, category=category)
    category.name_en = "Soups"
    services.category_save(actor=hq_manager, category=category, changed=["name_en"])

    assert list(AuditEvent.objects.order_by("seq").values_list("action", "data")) == [
        ("category.created", {"category": "soups"}),
        ("category.updated", {"category": "soups", "changed": ["name_en"]}),
    ]
    assert MenuCategory.objects.get(pk=category.pk).name_en == "Soups"
