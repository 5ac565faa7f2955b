from decimal import Decimal

import pytest

from accounts.models import Role
from audit.models import AuditEvent
from stores.models import StoreDishOverride
from tests.accounts.factories import UserFactory
from tests.stores.factories import DishFactory, StoreDishOverrideFactory, StoreFactory, make_staff

pytestmark = pytest.mark.django_db


def list_url(store_code):
    return f"/api/v1/stores/{store_code}/overrides/"


def detail_url(store_code, dish_code):
    return f"/api/v1/stores/{store_code}/overrides/{dish_code}/"


@pytest.fixture
def noodle(brand):
    return DishFactory(brand=brand, code="NOODLE", name_zh="拉面", price=Decimal("20.00"))


@pytest.fixture
def store_b(brand):
    return StoreFactory(brand=brand, code="SH002")


def snapshot():
    return list(StoreDishOverride.objects.order_by("pk").values())


def test_list_own_store_overrides(api_client, store_manager, store, noodle, django_assert_max_num_queries):
    StoreDishOverrideFactory(store=store, dish=noodle, price=None, stock=3, daily_stock=10)
    for dish in DishFactory.create_batch(15, brand=store.brand):
        StoreDishOverrideFactory(store=store, dish=dish, price=Decimal("9.90"))
    api_client.force_authenticate(store_manager)

    with django_assert_max_num_queries(8):
        response = api_client.get(list_url("SH001"))

    assert response.status_code == 200
    rows = response.json()
    assert len(rows) == 16
    first = next(row for row in rows if row["dish_code"] == "NOODLE")
    assert first == {
        "dish_code": "NOODLE", "dish_name": "拉面", "brand_price": "20.00", "price": None,
        "effective_price": "20.00", "available": True, "stock": 3, "daily_stock": 10,
        "updated_at": first["updated_at"],
    }


def test_patch_creates_override_and_audits(api_client, store_manager, store, noodle):
    api_client.force_authenticate(store_manager)
    response = api_client.patch(detail_url("SH001", "NOODLE"), {"available": False, "price": "18.50", "stock": 5},
                                format="json")
    assert response.status_code == 200
    assert response.json()["effective_price"] == "18.50"
    override = StoreDishOverride.objects.get(store=store, dish=noodle)
    assert (override.is_available, override.price, override.stock) == (False, Decimal("18.50"), 5)
    assert AuditEvent.objects.get().action == "override.created"

    again = api_client.patch(detail_url("SH001", "NOODLE"), {"price": None}, format="json")
    assert again.status_code == 200
    assert again.json()["effective_price"] == "20.00"
    override.refresh_from_db()
    assert override.price is None
    assert [e.action for e in AuditEvent.objects.order_by("seq")] == ["override.created", "override.updated"]


def test_other_store_is_forbidden(api_client, store_manager, store_b, noodle):
    StoreDishOverrideFactory(store=store_b, dish=noodle, price=Decimal("22.00"))
    before = snapshot()
    api_client.force_authenticate(store_manager)

    listing = api_client.get(list_url("SH002"))
    patch = api_client.patch(detail_url("SH002", "NOODLE"), {"price": "1.00"}, format="json")

    assert listing.status_code == 403 and listing.json()["code"] == "not_yours"
    assert patch.status_code == 403 and patch.json()["code"] == "not_yours"
    assert snapshot() == before
    assert not AuditEvent.objects.exists()


def test_other_brand_is_forbidden_for_hq(api_client, hq_manager, other_brand):
    StoreFactory(brand=other_brand, code="RV001")
    DishFactory(brand=other_brand, code="RIVAL")
    api_client.force_authenticate(hq_manager)
    assert api_client.get(list_url("RV001")).json()["code"] == "not_yours"
    response = api_client.patch(detail_url("RV001", "RIVAL"), {"available": False}, format="json")
    assert response.status_code == 403
    assert not StoreDishOverride.objects.exists()


def test_unknown_store_or_dish_is_404(api_client, hq_manager, store, other_brand):
    DishFactory(brand=other_brand, code="RIVAL")  # exists, but not in this store's brand
    api_client.force_authenticate(hq_manager)
    assert api_client.get(list_url("NOPE")).status_code == 404
    missing_dish = api_client.patch(detail_url("SH001", "RIVAL"), {"available": False}, format="json")
    assert missing_dish.status_code == 404
    assert missing_dish.json()["code"] == "not_found"
    assert not StoreDishOverride.objects.exists()


@pytest.mark.parametrize("payload", [
    {"price": "-1"},
    {"price": "abc"},
    {"price": "1.234"},
    {"stock": -2},
    {"stock": "many"},
    {"available": "perhaps"},
    {},
    {"colour": "red"},
])
def test_bad_values_are_400_and_change_nothing(api_client, store_manager, store, noodle, payload):
    StoreDishOverrideFactory(store=store, dish=noodle, price=Decimal("21.00"), stock=4)
    before = snapshot()
    api_client.force_authenticate(store_manager)

    response = api_client.patch(detail_url("SH001", "NOODLE"), payload, format="json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"code", "detail"}
    assert snapshot() == before
    assert not AuditEvent.objects.exists()


def test_anonymous_and_customer_are_refused(api_client, customer, store, noodle):
    anonymous = api_client.get(list_url("SH001"))
    assert anonymous.status_code in (401, 403)
    assert "code" in anonymous.json()
    api_client.force_authenticate(customer)
    response = api_client.patch(detail_url("SH001", "NOODLE"), {"available": False}, format="json")
    assert response.status_code == 403
    assert not StoreDishOverride.objects.exists()


def test_schema_documents_staff_endpoints(api_client):
    response = api_client.get("/api/schema/")
    assert response.status_code == 200
    text = response.content.decode()
    assert "/api/v1/stores/{store_code}/overrides/{dish_code}/" in text
    assert "store_override_update" in text


# --- review fixes ---


@pytest.fixture
def cook(brand, store):
    return make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[store], phone="13700000005")


def test_kitchen_staff_cannot_patch_a_price(api_client, cook, store, noodle):
    StoreDishOverrideFactory(store=store, dish=noodle, price=Decimal("21.00"), stock=4)
    before = snapshot()
    api_client.force_authenticate(cook)

    response = api_client.patch(detail_url("SH001", "NOODLE"), {"price": "1.00", "available": False}, format="json")
    new_row = api_client.patch(detail_url("SH001", "RICE"), {"price": "1.00"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "not_yours"
    assert new_row.status_code in (403, 404)
    assert snapshot() == before
    assert not AuditEvent.objects.exists()


def test_kitchen_staff_marks_sold_out_and_sets_stock(api_client, cook, store, noodle):
    StoreDishOverrideFactory(store=store, dish=noodle, price=Decimal("21.00"), stock=4)
    api_client.force_authenticate(cook)

    response = api_client.patch(detail_url("SH001", "NOODLE"), {"available": False, "stock": 0, "daily_stock": 12},
                                format="json")

    assert response.status_code == 200
    row = StoreDishOverride.objects.get(store=store, dish=noodle)
    assert (row.is_available, row.stock, row.daily_stock, row.price) == (False, 0, 12, Decimal("21.00"))
    assert api_client.get(list_url("SH001")).status_code == 200


def test_frozen_staff_are_refused(api_client, store_manager, store, noodle):
    root = UserFactory(phone="13700000008", is_staff=True, is_superuser=True)
    for user in (store_manager, root):
        user.is_frozen, user.frozen_reason = True, "left"
        api_client.force_authenticate(user)
        listing = api_client.get(list_url("SH001"))
        patch = api_client.patch(detail_url("SH001", "NOODLE"), {"available": False}, format="json")
        assert listing.status_code == 403
        assert patch.status_code == 403
    assert not StoreDishOverride.objects.exists()


def test_staff_without_override_permissions_are_refused(api_client, brand, store, noodle):
    canteen_staff = make_staff(role=Role.CANTEEN_STAFF, brand=brand, stores=[store], phone="13700000006")
    api_client.force_authenticate(canteen_staff)
    assert api_client.get(list_url("SH001")).status_code == 403
    assert api_client.patch(detail_url("SH001", "NOODLE"), {"available": False}, format="json").status_code == 403
    assert not StoreDishOverride.objects.exists()


def test_list_leaves_out_rows_of_another_brand(api_client, store_manager, store, noodle, other_brand):
    StoreDishOverrideFactory(store=store, dish=noodle)
    stray = StoreDishOverrideFactory(store=store, dish=DishFactory(brand=other_brand, code="RIVAL"))
    StoreDishOverride.objects.filter(pk=stray.pk).update(brand=other_brand)  # as a brand move left it
    api_client.force_authenticate(store_manager)

    rows = api_client.get(list_url("SH001")).json()

    assert [row["dish_code"] for row in rows] == ["NOODLE"]


@pytest.mark.parametrize("path", [
    "/api/v1/stores/%00/overrides/",
    "/api/v1/stores/SH001/overrides/%00/",
    "/api/v1/stores/" + "A" * 33 + "/overrides/",
])
def test_impossible_codes_are_404_not_500(api_client, hq_manager, store, path):
    api_client.force_authenticate(hq_manager)
    assert api_client.get(path).status_code == 404
    assert api_client.patch(path, {"available": False}, format="json").status_code == 404
