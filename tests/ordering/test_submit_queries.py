"""The statements of an order submit (service and API), so the hot path cannot creep back up.

Counts are for the test database, where the service's transaction is a savepoint (SAVEPOINT and
RELEASE count as two statements; in production they are BEGIN and COMMIT). A brand's first
audit event also creates its chain head, so each test submits one order before counting.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from audit.services import audit_verify
from ordering.services import LineRequest, order_submit
from stores.models import StoreDishOverride
from stores.selectors import store_get_public
from stores.services import SoldOut, stock_reserve
from tests.ordering.factories import submit

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders/"

# Idempotency key; dishes with their overrides; option groups; options; SAVEPOINT; one guarded
# stock decrement (the noodles have unlimited stock); order number; order; its history row; its
# lines; audit: foreign keys checked now (SET CONSTRAINTS), chain head lock, event, head update;
# RELEASE.
SERVICE_STATEMENTS = 15
# The same plus the token, the store and its opening hours.
API_STATEMENTS = SERVICE_STATEMENTS + 3


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # throttle counters
    yield
    cache.clear()


def _lines(menu) -> list[LineRequest]:
    return [
        LineRequest(dish_id=menu.noodles.pk, quantity=1, option_ids=(menu.hot.pk,)),
        LineRequest(dish_id=menu.dumplings.pk, quantity=2),
    ]


def test_order_submit_statements(customer, store, menu, django_assert_max_num_queries):
    submit(customer, store, menu, key="first")  # creates the brand's audit chain head
    public = store_get_public(code=store.code)
    with django_assert_max_num_queries(SERVICE_STATEMENTS):
        result = order_submit(
            actor=customer, store=public, fulfilment="pickup", lines=_lines(menu), idempotency_key="second",
        )
    assert result.created
    assert result.order.total == result.order.subtotal
    assert StoreDishOverride.objects.get(store=store, dish=menu.dumplings).stock == 10 - 2 - 2


def test_order_submit_without_options_skips_option_queries(customer, store, menu, django_assert_max_num_queries):
    submit(customer, store, menu, key="first")
    public = store_get_public(code=store.code)
    lines = [LineRequest(dish_id=menu.dumplings.pk, quantity=1), LineRequest(dish_id=menu.tea.pk, quantity=1)]
    with django_assert_max_num_queries(SERVICE_STATEMENTS - 2):
        result = order_submit(actor=customer, store=public, fulfilment="pickup", lines=lines, idempotency_key="k")
    assert [line.unit_price for line in result.order.lines.all()] == [menu.dumplings.price, Decimal("5.00")]


def test_replay_is_one_statement(customer, store, menu, django_assert_max_num_queries):
    first = submit(customer, store, menu, key="same")
    public = store_get_public(code=store.code)
    with django_assert_max_num_queries(1):
        result = order_submit(
            actor=customer, store=public, fulfilment="pickup", lines=_lines(menu), idempotency_key="same",
        )
    assert not result.created
    assert result.order.pk == first.pk


def test_submitted_order_keeps_its_lines(customer, store, menu, django_assert_num_queries):
    order = submit(customer, store, menu)
    with django_assert_num_queries(0):
        lines = list(order.lines.all())
    assert [(line.dish_id, line.quantity, line.position) for line in lines] == [
        (menu.noodles.pk, 1, 0), (menu.dumplings.pk, 2, 1),
    ]
    assert all(line.pk is not None for line in lines)
    # Any other query on the relation still reads the database.
    assert order.lines.filter(dish_id=menu.dumplings.pk).count() == 1


def test_api_submit_statements(customer, store, menu, api_client, django_assert_max_num_queries):
    token = Token.objects.create(user=customer)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    body = {
        "store": store.code,
        "fulfilment": "pickup",
        "lines": [
            {"dish": menu.noodles.pk, "quantity": 1, "options": [menu.hot.pk]},
            {"dish": menu.dumplings.pk, "quantity": 2},
        ],
    }
    first = api_client.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert first.status_code == 201
    with django_assert_max_num_queries(API_STATEMENTS):
        response = api_client.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex)
    assert response.status_code == 201
    # Built from what the service returned, the answer is what a fresh read of the order gives.
    fresh = api_client.get(f"{ORDERS}{response.json()['id']}/")
    assert fresh.status_code == 200
    assert response.json() == fresh.json()
    assert response.json()["money"] == {"paid": "0.00", "due": "45.00", "refunded": "0.00", "refundable": "0.00"}
    assert audit_verify().ok


def test_api_replay_reads_money(customer, store, menu, api_client):
    api_client.force_authenticate(customer)
    body = {"store": store.code, "fulfilment": "pickup", "lines": [{"dish": menu.dumplings.pk, "quantity": 1}]}
    created = api_client.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY="replay-me")
    replayed = api_client.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY="replay-me")
    assert (created.status_code, replayed.status_code) == (201, 200)
    assert replayed.json() == created.json()


def test_stock_reserve_with_rows_already_read(store, menu):
    override = StoreDishOverride.objects.get(store=store, dish=menu.dumplings)
    rows = {menu.dumplings.pk: {"pk": override.pk, "is_available": True, "stock": override.stock}}
    with transaction.atomic():
        left = stock_reserve(store=store, quantities={menu.dumplings.pk: 3, menu.tea.pk: 1}, overrides=rows)
    assert left == {menu.dumplings.pk: 7, menu.tea.pk: None}
    # The old call, reading the rows itself, still works.
    with transaction.atomic():
        assert stock_reserve(store=store, quantities={menu.dumplings.pk: 2}) == {menu.dumplings.pk: 5}


def test_stock_reserve_guard_holds_with_stale_rows(store, menu):
    """Rows read earlier may be stale: the guarded UPDATE still refuses more than is left."""
    override = StoreDishOverride.objects.get(store=store, dish=menu.dumplings)
    stale = {menu.dumplings.pk: {"pk": override.pk, "is_available": True, "stock": 10}}
    StoreDishOverride.objects.filter(pk=override.pk).update(stock=1)
    with pytest.raises(SoldOut) as excinfo, transaction.atomic():
        stock_reserve(store=store, quantities={menu.dumplings.pk: 2}, overrides=stale)
    assert excinfo.value.dish_ids == (menu.dumplings.pk,)
    assert StoreDishOverride.objects.get(pk=override.pk).stock == 1


def test_audit_event_adds_no_savepoint(customer, store, menu):
    """Inside the order's transaction the audit event adds no savepoint of its own."""
    submit(customer, store, menu, key="first")
    public = store_get_public(code=store.code)
    with CaptureQueriesContext(connection) as queries:
        order_submit(actor=customer, store=public, fulfilment="pickup", lines=_lines(menu))
    savepoints = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert len(savepoints) == 1  # the service's own atomic block (a savepoint only under the test transaction)


@pytest.mark.parametrize("dish_id", [0, -1, 2**63, 10**30])
def test_unknown_dish_ids_are_refused_not_errors(customer, store, menu, dish_id):
    from ordering.errors import OrderInvalid

    with pytest.raises(OrderInvalid):
        order_submit(
            actor=customer, store=store, fulfilment="pickup",
            lines=[LineRequest(dish_id=menu.dumplings.pk, quantity=1), LineRequest(dish_id=dish_id, quantity=1)],
        )
    assert StoreDishOverride.objects.get(store=store, dish=menu.dumplings).stock == 10
