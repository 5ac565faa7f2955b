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
