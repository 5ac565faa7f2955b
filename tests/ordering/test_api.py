"""Orders API: submit (idempotent), read, list, cancel; staff redeem pickup codes."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Role
from audit.models import AuditEvent
from ordering.api.views import OrderCreateThrottle
from ordering.models import Order, OrderLine, OrderSource, OrderStatus
from ordering.services import LineRequest, order_bump
from stores.models import StoreDishOverride
from tests.accounts.factories import UserFactory
from tests.ordering.factories import paid_order, submit
from tests.stores.factories import BrandFactory, DishFactory, MenuCategoryFactory, StoreFactory, make_staff

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # throttle counters
    yield
    cache.clear()


@pytest.fixture
def client(api_client, customer):
    api_client.force_authenticate(customer)
    return api_client


def detail_url(order_id) -> str:
    return f"{ORDERS}{order_id}/"


def body(menu, **overrides) -> dict:
    data = {
        "store": "SH001",
        "fulfilment": "pickup",
        "lines": [
            {"dish": menu.noodles.pk, "quantity": 1, "options": [menu.hot.pk]},
            {"dish": menu.dumplings.pk, "quantity": 2},
        ],
    }
    data.update(overrides)
    return data


def post_order(client, data, key: str | None = "key-1", language: str | None = None):
    headers = {"Idempotency-Key": key} if key is not None else {}
    if language:
        headers["Accept-Language"] = language
    return client.post(ORDERS, data, format="json", headers=headers)


def state(menu) -> tuple:
    """Everything a refused submit must leave alone: orders, lines, stock, audit."""
    return (
        Order.objects.count(),
        OrderLine.objects.count(),
        StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock,
        AuditEvent.objects.count(),
    )


def ready_order(customer, store, menu, staff):
    order = paid_order(customer, store, menu)
    order_bump(actor=staff, order_id=order.pk, move="start")
    order_bump(actor=staff, order_id=order.pk, move="ready")
    order.refresh_from_db()
    return order


# --- POST /orders/ ---------------------------------------------------------------------------


def test_submit_creates_the_order(client, customer, menu):
    response = post_order(client, body(menu, note="No coriander"), language="en")

    assert response.status_code == 201
    data = response.json()
    order = Order.objects.get()
    assert data["id"] == str(order.pk)
    assert (order.customer, order.source, order.idempotency_key) == (customer, OrderSource.API, "key-1")
    assert data["store"] == "SH001"
    assert data["status"] == "pending_payment"
    assert data["number"] == 1 and data["display_number"] == "001"
    assert data["fulfilment"] == "pickup" and data["note"] == "No coriander"
    assert (data["subtotal"], data["delivery_fee"], data["total"]) == ("45.00", "0.00", "45.00")
    assert data["money"] == {"paid": "0.00", "due": "45.00", "refunded": "0.00", "refundable": "0.00"}
    assert data["pickup_code"] is None and data["paid_at"] is None
    assert data["expires_at"] and data["created_at"]
    noodles, dumplings = data["lines"]
    order = Order.objects.get(pk=data["id"])
    assert noodles == {
        "id": order.lines.get(dish=menu.noodles).pk,
        "dish": "noodles", "dish_id": menu.noodles.pk, "name": "Beef noodles",
        "options": [{"id": menu.hot.pk, "name": "Hot", "price_delta": "2.00"}],
        "unit_price": "20.00", "quantity": 1, "line_total": "20.00",
    }
    assert (dumplings["dish"], dumplings["quantity"], dumplings["line_total"]) == ("dumplings", 2, "25.00")
    assert StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock == 8


def test_replayed_key_returns_the_same_order(client, menu):
    first = post_order(client, body(menu))
    after_first = state(menu)

    again = post_order(client, body(menu))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["total"] == "45.00"
    assert state(menu) == after_first


def test_same_key_with_another_body_is_a_conflict(client, menu):
    post_order(client, body(menu))
    before = state(menu)

    response = post_order(client, body(menu, lines=[{"dish": menu.tea.pk, "quantity": 1}]))

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert state(menu) == before


def test_another_customer_with_the_same_key_gets_their_own_order(client, menu, api_client):
    first = post_order(client, body(menu)).json()["id"]
    other = UserFactory(phone="13800000002")
    api_client.force_authenticate(other)

    response = post_order(api_client, body(menu))

    assert response.status_code == 201
    assert response.json()["id"] != first
    assert Order.objects.count() == 2


@pytest.mark.parametrize(
    ("key", "code"),
    [(None, "idempotency_key_required"), ("", "idempotency_key_required"), ("   ", "idempotency_key_required"),
     ("k" * 101, "idempotency_key_invalid"), ("tab\there", "idempotency_key_invalid"),
     ("钥匙", "idempotency_key_invalid")],
)
def test_idempotency_key_is_required_and_bounded(client, menu, key, code):
    before = state(menu)
    response = post_order(client, body(menu), key=key)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert state(menu) == before


def test_a_100_character_key_is_accepted(client, menu):
    response = post_order(client, body(menu), key="k" * 100)
    assert response.status_code == 201
    assert Order.objects.get().idempotency_key == "k" * 100


@pytest.mark.parametrize("quantity", [0, -1, 100, 1000, "abc", 2.5, 2.0, True, None, "", [1], 10**30])
def test_bad_quantity_is_refused(client, menu, quantity):
    before = state(menu)
    response = post_order(client, body(menu, lines=[{"dish": menu.tea.pk, "quantity": quantity}]))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "lines" in response.json()["detail"]
    assert state(menu) == before


@pytest.mark.parametrize("dish", ["abc", 1.5, None, -3, 0, 2**70, {"id": 1}])
def test_dish_must_be_an_integer_id(client, menu, dish):
    before = state(menu)
    response = post_order(client, body(menu, lines=[{"dish": dish, "quantity": 1}]))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert state(menu) == before


@pytest.mark.parametrize(
    "overrides",
    [
        {"lines": []},
        {"lines": "noodles"},
        {"lines": [7]},
        {"fulfilment": "drone"},
        {"store": ""},
        {"note": "x" * 201},
        {"note": "bad\x00byte"},
        {"latitude": "NaN", "longitude": "1"},
        {"latitude": "91", "longitude": "121"},
        {"latitude": "31", "longitude": "-181"},
        {"lines": [{"dish": 1, "quantity": 1, "options": ["hot"]}]},
    ],
)
def test_malformed_body_is_refused(client, menu, overrides):
    before = state(menu)
    response = post_order(client, body(menu, **overrides))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert state(menu) == before


def test_missing_fields_and_non_object_bodies_are_400(client, menu):
    before = state(menu)
    assert post_order(client, {}).status_code == 400
    assert post_order(client, [body(menu)]).status_code == 400
    assert client.post(ORDERS, "not json", content_type="application/json",
                       headers={"Idempotency-Key": "k"}).status_code == 400
    assert state(menu) == before


def test_at_most_30_lines(client, menu):
    line = {"dish": menu.tea.pk, "quantity": 1}
    before = state(menu)

    too_many = post_order(client, body(menu, lines=[line] * 31), key="a")
    assert too_many.status_code == 400
    assert state(menu) == before

    assert post_order(client, body(menu, lines=[line] * 30), key="b").status_code == 201


def test_unknown_store_is_404(client, menu):
    before = state(menu)
    response = post_order(client, body(menu, store="NOPE"))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert state(menu) == before


def test_unknown_dish_and_another_brands_dish_are_400(client, menu):
    rival = BrandFactory(code="rival")
    foreign = DishFactory(brand=rival, category=MenuCategoryFactory(brand=rival), code="foreign")
    before = state(menu)
    for dish_id in (foreign.pk, 987654321):
        response = post_order(client, body(menu, lines=[{"dish": dish_id, "quantity": 1}]), key=f"k{dish_id}",
                              language="en")
        assert response.status_code == 400
        assert response.json() == {"code": "invalid", "detail": "A dish in your order is not on this store's menu."}
    assert state(menu) == before


def test_option_of_another_dish_is_400(client, menu):
    before = state(menu)
    response = post_order(client, body(menu, lines=[{"dish": menu.tea.pk, "quantity": 1, "options": [menu.hot.pk]}]))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert state(menu) == before


def test_sold_out_is_409_and_reserves_nothing(client, menu):
    before = state(menu)
    switched_off = post_order(client, body(menu, lines=[{"dish": menu.soup.pk, "quantity": 1}]), key="a")
    too_many = post_order(
        client, body(menu, lines=[{"dish": menu.dumplings.pk, "quantity": 6}, {"dish": menu.dumplings.pk,
                                                                              "quantity": 5}]),
        key="b",
    )
    assert (switched_off.status_code, too_many.status_code) == (409, 409)
    assert switched_off.json()["code"] == too_many.json()["code"] == "sold_out"
    assert state(menu) == before


def test_closed_store_is_409(client, menu, store):
    store.is_open = False
    store.save()
    before = state(menu)
    response = post_order(client, body(menu))
    assert response.status_code == 409
    assert response.json()["code"] == "store_closed"
    assert state(menu) == before


def test_delivery_inside_and_outside_the_radius(client, menu, store):
    store.offers_delivery, store.delivery_fee = True, Decimal("6.00")
    store.save()
    before = state(menu)

    far = post_order(client, body(menu, fulfilment="delivery", address="北京", latitude="39.9042",
                                  longitude="116.4074"), key="far")
    assert far.status_code == 400
    assert far.json()["code"] == "outside_delivery_area"
    assert state(menu) == before

    near = post_order(client, body(menu, fulfilment="delivery", address="南京东路 2 号", latitude=31.2310001234,
                                   longitude=121.4740), key="near")
    assert near.status_code == 201
    data = near.json()
    assert (data["fulfilment"], data["delivery_fee"], data["total"]) == ("delivery", "6.00", "51.00")
    order = Order.objects.get(pk=data["id"])
    assert order.delivery_latitude == Decimal("31.231000")


def test_dine_in_needs_a_table_of_the_store(client, menu):
    before = state(menu)
    unknown = post_order(client, body(menu, fulfilment="dine_in", table="Z9"), key="a")
    assert unknown.status_code == 400
    assert state(menu) == before

    response = post_order(client, body(menu, fulfilment="dine_in", table="A1"), key="b")
    assert response.status_code == 201
    assert response.json()["table"] == "A1"


def test_frozen_account_is_403(client, customer, menu):
    customer.is_frozen, customer.frozen_at = True, timezone.now()
    customer.save()
    before = state(menu)
    response = post_order(client, body(menu))
    assert response.status_code == 403
    assert response.json()["code"] == "account_frozen"
    assert state(menu) == before


def test_order_creation_is_throttled_per_user(client, menu, monkeypatch):
    monkeypatch.setattr(OrderCreateThrottle, "rate", "2/min", raising=False)
    line = [{"dish": menu.tea.pk, "quantity": 1}]
    statuses = [post_order(client, body(menu, lines=line), key=f"k{i}").status_code for i in range(3)]

    assert statuses == [201, 201, 429]
    assert Order.objects.count() == 2
    throttled = post_order(client, body(menu, lines=line), key="k9")
    assert throttled.json()["code"] == "throttled" and throttled.json()["retry_after"] > 0
    assert client.get(ORDERS).status_code == 200  # reading is not throttled


def test_throttle_default_rate():
    assert OrderCreateThrottle().rate == "30/min"


def test_unauthenticated_requests_get_json_errors(api_client, menu):
    before = state(menu)
    order = submit(UserFactory(phone="13800000009"), menu.table.store, menu)
    for response in (
        post_order(api_client, body(menu)),
        api_client.get(ORDERS),
        api_client.get(detail_url(order.pk)),
        api_client.post(f"{detail_url(order.pk)}cancel/"),
    ):
        assert response.status_code in (401, 403)
        assert response.json()["code"] == "not_authenticated"
    assert Order.objects.count() == before[0] + 1
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_token_authentication(api_client, customer, menu):
    token = Token.objects.create(user=customer)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    created = post_order(api_client, body(menu))
    assert created.status_code == 201
    assert Order.objects.get().customer == customer
    assert api_client.get(detail_url(created.json()["id"])).status_code == 200

    api_client.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert api_client.get(ORDERS).status_code in (401, 403)


@pytest.mark.django_db(transaction=True)
def test_simultaneous_submits_with_one_key_make_one_order(customer, menu):
    barrier = threading.Barrier(4)
    statuses: list = []

    def run():
        try:
            client = APIClient()
            client.force_authenticate(customer)
            barrier.wait(timeout=10)
            statuses.append(post_order(client, body(menu), key="same").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [200, 200, 200, 201]
    assert Order.objects.count() == 1
    assert StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock == 8


# --- GET /orders/{id}/ and /orders/ ----------------------------------------------------------


def test_detail_of_own_order(client, customer, store, menu, django_assert_max_num_queries):
    order = submit(customer, store, menu)
    with django_assert_max_num_queries(4):
        response = client.get(detail_url(order.pk))
    assert response.status_code == 200
    data = response.json()
    assert (data["id"], data["status"], data["total"], data["pickup_code"]) == (
        str(order.pk), "pending_payment", "45.00", None,
    )
    assert [line["dish"] for line in data["lines"]] == ["noodles", "dumplings"]


def test_detail_of_paid_order_shows_pickup_code_and_money(client, customer, store, menu):
    order = paid_order(customer, store, menu)
    data = client.get(detail_url(order.pk)).json()
    assert data["status"] == "paid"
    assert data["pickup_code"] == order.pickup_code and len(data["pickup_code"]) == 6
    assert data["paid_at"] is not None
    assert data["money"] == {"paid": "45.00", "due": "0.00", "refunded": "0.00", "refundable": "45.00"}


def test_another_customers_order_is_404(client, store, menu):
    theirs = submit(UserFactory(phone="13800000002"), store, menu)
    for url in (detail_url(theirs.pk), detail_url(uuid.uuid4())):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_malformed_order_id_is_a_json_404(client):
    response = client.get(f"{ORDERS}not-a-uuid/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_list_own_orders_paginated_with_bounded_queries(client, customer, store, menu,
                                                        django_assert_max_num_queries):
    tea = [LineRequest(dish_id=menu.tea.pk, quantity=1)]
    for _i in range(12):
        submit(customer, store, menu, lines=tea)
    submit(UserFactory(phone="13800000002"), store, menu, lines=tea)

    with django_assert_max_num_queries(4):
        response = client.get(ORDERS, {"limit": 5})

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 12
    assert len(data["results"]) == 5 and data["next"]
    numbers = [row["number"] for row in data["results"]]
    assert numbers == sorted(numbers, reverse=True)  # newest first
    assert data["results"][0]["lines"][0]["dish"] == "tea"
    assert "money" not in data["results"][0]

    with django_assert_max_num_queries(4):
        everything = client.get(ORDERS, {"limit": 1000}).json()
    assert len(everything["results"]) == 12  # max_limit is 100; only the caller's


# --- POST /orders/{id}/cancel/ ---------------------------------------------------------------


def test_cancel_unpaid_order_releases_stock(client, customer, store, menu):
    order = submit(customer, store, menu)
    assert StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock == 8

    response = client.post(f"{detail_url(order.pk)}cancel/")

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock == 10

    again = client.post(f"{detail_url(order.pk)}cancel/")
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"


def test_cancel_paid_order_is_409(client, customer, store, menu):
    order = paid_order(customer, store, menu)
    before = state(menu)
    response = client.post(f"{detail_url(order.pk)}cancel/")
    assert response.status_code == 409
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert state(menu) == before


def test_cancel_another_customers_order_is_404(client, store, menu):
    theirs = submit(UserFactory(phone="13800000002"), store, menu)
    before = state(menu)
    response = client.post(f"{detail_url(theirs.pk)}cancel/")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == OrderStatus.PENDING_PAYMENT
    assert state(menu) == before


# --- POST /stores/{code}/redeem/ -------------------------------------------------------------


def redeem(api_client, user, code, store_code="SH001"):
    api_client.force_authenticate(user)
    return api_client.post(f"/api/v1/stores/{store_code}/redeem/", {"pickup_code": code}, format="json")


def test_staff_redeems_a_ready_order(api_client, customer, store, menu, store_manager):
    order = ready_order(customer, store, menu, store_manager)

    response = redeem(api_client, store_manager, order.pickup_code)

    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert response.json()["id"] == str(order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED

    used = redeem(api_client, store_manager, order.pickup_code)
    assert used.status_code == 400
    assert used.json()["code"] == "used_code"


def test_customers_cannot_redeem(api_client, customer, store, menu, store_manager):
    order = ready_order(customer, store, menu, store_manager)
    response = redeem(api_client, customer, order.pickup_code)
    assert response.status_code == 403
    assert response.json()["code"] == "not_yours"
    order.refresh_from_db()
    assert order.status == OrderStatus.READY


def test_staff_of_another_store_cannot_redeem(api_client, customer, store, menu, store_manager):
    other_store = StoreFactory(brand=store.brand, code="SH002")
    other_manager = make_staff(role=Role.STORE_MANAGER, brand=store.brand, stores=[other_store],
                               phone="13700000009")
    order = ready_order(customer, store, menu, store_manager)

    response = redeem(api_client, other_manager, order.pickup_code)

    assert response.status_code == 403
    assert response.json()["code"] == "not_yours"
    order.refresh_from_db()
    assert order.status == OrderStatus.READY


@pytest.mark.parametrize("code", ["", "12345", "12ab56", "1234567", " 12 34 "])
def test_malformed_codes(api_client, store_manager, store, code):
    response = redeem(api_client, store_manager, code)
    assert response.status_code == 400
    assert response.json()["code"] == "malformed"


def test_wrong_code(api_client, customer, store, menu, store_manager):
    order = ready_order(customer, store, menu, store_manager)
    wrong = "000000" if order.pickup_code != "000000" else "000001"
    response = redeem(api_client, store_manager, wrong)
    assert response.status_code == 400
    assert response.json()["code"] == "wrong_code"
    order.refresh_from_db()
    assert order.status == OrderStatus.READY


def test_not_ready_is_409(api_client, customer, store, menu, store_manager):
    order = paid_order(customer, store, menu)
    response = redeem(api_client, store_manager, order.pickup_code)
    assert response.status_code == 409
    assert response.json()["code"] == "not_ready"
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_code_of_another_store(api_client, customer, store, menu, hq_manager):
    other_store = StoreFactory(brand=store.brand, code="SH002")
    order = ready_order(customer, other_store, menu, hq_manager)

    response = redeem(api_client, hq_manager, order.pickup_code, store_code="SH001")

    assert response.status_code == 400
    assert response.json()["code"] == "other_store"
    order.refresh_from_db()
    assert order.status == OrderStatus.READY


def test_expired_code(api_client, customer, store, menu, store_manager):
    order = ready_order(customer, store, menu, store_manager)
    # The order was paid three days ago (not a status change: only its business day moves).
    Order.objects.filter(pk=order.pk).update(business_date=order.business_date - timedelta(days=3))

    response = redeem(api_client, store_manager, order.pickup_code)

    assert response.status_code == 400
    assert response.json()["code"] == "expired_code"
    order.refresh_from_db()
    assert order.status == OrderStatus.READY


def test_redeem_at_unknown_store_is_404(api_client, store_manager):
    response = redeem(api_client, store_manager, "123456", store_code="NOPE")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- Schema ----------------------------------------------------------------------------------


def test_schema_documents_the_order_endpoints_without_warnings(api_client, tmp_path):
    paths = api_client.get("/api/schema/?format=json").json()["paths"]
    assert {"/api/v1/orders/", "/api/v1/orders/{order_id}/", "/api/v1/orders/{order_id}/cancel/",
            "/api/v1/stores/{store_code}/redeem/"} <= set(paths)
    create = paths["/api/v1/orders/"]["post"]
    assert {"201", "200", "400", "404", "409", "429"} <= set(create["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in create["parameters"])

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert out.read_text().startswith("openapi:")


def test_an_api_client_orders_what_the_menu_api_lists(client, store, menu):
    """The menu's dish ids and option ids are what an order names: a client needs nothing else."""
    listed = client.get(f"/api/v1/stores/{store.code}/menu/").json()
    dishes = {d["code"]: d for c in listed["categories"] for d in c["dishes"]}
    groups = {g["code"]: g for g in listed["option_groups"]}
    hot = next(o for o in groups["spice"]["options"] if o["price_delta"] == "2.00")
    lines = [{"dish": dishes["noodles"]["id"], "quantity": 1, "options": [hot["id"]]},
             {"dish": dishes["dumplings"]["id"], "quantity": 2}]
    response = post_order(client, {"store": store.code, "fulfilment": "pickup", "lines": lines})
    assert response.status_code == 201
    assert response.json()["total"] == "45.00"
