"""Payments API: paying an order with a gift card (or at the counter, staff), and every refusal."""

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
from ordering.models import Order, OrderStatus
from ordering.services import LineRequest, order_cancel
from payments.api.views import _fingerprint, _idempotency_slot
from payments.models import GiftCard, GiftCardEntry, Payment, PaymentStatus
from payments.services import gift_card_issue, gift_card_top_up
from tests.accounts.factories import UserFactory
from tests.ordering.factories import gift_card_for, paid_order, submit
from tests.stores.factories import BrandFactory, StoreFactory, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # idempotency keys
    yield
    cache.clear()


@pytest.fixture
def client(api_client, customer):
    api_client.force_authenticate(customer)
    return api_client


def url(order_id) -> str:
    return f"/api/v1/orders/{order_id}/payments/"


def pay(client, order_id, data, key: str | None = None):
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(url(order_id), data, format="json", headers=headers)


def state() -> tuple:
    """Everything a refused payment must leave alone: payments, the ledger, balances, orders, audit."""
    return (
        list(Payment.objects.order_by("pk").values_list("pk", "status", "amount")),
        GiftCardEntry.objects.count(),
        list(GiftCard.objects.order_by("pk").values_list("pk", "balance")),
        list(Order.objects.order_by("pk").values_list("pk", "status", "pickup_code")),
        AuditEvent.objects.count(),
    )


def test_pay_with_a_bound_gift_card(client, order, card):
    response = pay(client, order.pk, {"channel": "gift_card", "gift_card": card.pk})

    assert response.status_code == 201
    data = response.json()
    payment = Payment.objects.get()
    assert data["payment"] == {"id": str(payment.pk), "channel": "gift_card", "amount": "45.00",
                               "status": "succeeded"}
    assert data["status"] == "succeeded"
    assert data["action"] == {"kind": "none", "url": "", "qr_content": "", "reference": ""}
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert data["order"] == {"id": str(order.pk), "status": "paid", "pickup_code": order.pickup_code}
    assert len(order.pickup_code) == 6
    card.refresh_from_db()
    assert card.balance == Decimal("55.00")
    assert list(card.entries.order_by("pk").values_list("amount", "balance_after")) == [
        (Decimal("100.00"), Decimal("100.00")), (Decimal("-45.00"), Decimal("55.00")),
    ]

    detail = client.get(f"/api/v1/orders/{order.pk}/").json()
    assert detail["money"] == {"paid": "45.00", "due": "0.00", "refunded": "0.00", "refundable": "45.00"}


def test_pay_with_an_unbound_card_by_its_number(client, order, brand):
    card = gift_card_issue(actor=None, brand=brand, amount=Decimal("50.00"))
    response = pay(client, order.pk, {"channel": "gift_card", "gift_card_code": card.code})
    assert response.status_code == 201
    card.refresh_from_db()
    assert card.balance == Decimal("5.00")


def test_part_payment_is_refused_until_split_payment_exists(client, order, card):
    before = state()
    part = pay(client, order.pk, {"channel": "gift_card", "gift_card": card.pk, "amount": "12.50"})
    assert part.status_code == 409
    assert part.json()["code"] == "partial_not_allowed"
    assert state() == before

    whole = pay(client, order.pk, {"channel": "gift_card", "gift_card": card.pk, "amount": "45.00"})
    assert whole.status_code == 201
    assert whole.json()["order"]["status"] == "paid"
    card.refresh_from_db()
    assert card.balance == Decimal("55.00")


def test_two_identical_posts_charge_once(client, order, card):
    data = {"channel": "gift_card", "gift_card": card.pk}
    first = pay(client, order.pk, data)
    after_first = state()

    second = pay(client, order.pk, data)

    assert first.status_code == 201
    assert second.status_code == 409
    assert second.json()["code"] == "already_paid"
    assert state() == after_first
    assert Payment.objects.count() == 1


def test_idempotency_key_replay_returns_the_same_payment(client, order, card):
    data = {"channel": "gift_card", "gift_card": card.pk}
    first = pay(client, order.pk, data, key="pay-1")
    after_first = state()

    again = pay(client, order.pk, data, key="pay-1")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["payment"]["id"] == first.json()["payment"]["id"]
    assert state() == after_first  # a payment replayed is not taken twice

    other_body = pay(client, order.pk, {**data, "amount": "11.00"}, key="pay-1")
    assert other_body.status_code == 409
    assert other_body.json()["code"] == "idempotency_conflict"
    assert state() == after_first

    new_key = pay(client, order.pk, data, key="pay-2")
    assert new_key.status_code == 409
    assert new_key.json()["code"] == "already_paid"
    assert Payment.objects.count() == 1


def test_a_refused_payment_releases_its_key(client, order, customer, brand):
    poor = gift_card_for(customer, brand, "10.00")
    data = {"channel": "gift_card", "gift_card": poor.pk}
    refused = pay(client, order.pk, data, key="pay-1")
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_balance"

    gift_card_top_up(actor=None, card_id=poor.pk, amount=Decimal("50.00"))
    retried = pay(client, order.pk, data, key="pay-1")
    assert retried.status_code == 201
    assert Payment.objects.get().status == PaymentStatus.SUCCEEDED


def test_a_key_in_flight_is_409(client, order, card, customer):
    cache.add(_idempotency_slot(customer, "pay-1"), {"fingerprint": "x", "payment": None}, 60)
    before = state()
    data = {"channel": "gift_card", "gift_card": card.pk}
    # Same key, a body we do not know yet: the claim is somebody else's fingerprint.
    response = pay(client, order.pk, data, key="pay-1")
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"

    cache.set(_idempotency_slot(customer, "pay-2"), {"fingerprint": _fingerprint(order.pk, data), "payment": None},
              60)
    in_flight = pay(client, order.pk, data, key="pay-2")
    assert in_flight.status_code == 409
    assert in_flight.json()["code"] == "idempotency_in_progress"
    assert state() == before


def test_idempotency_keys_are_per_user(client, order, card, store, menu, api_client):
    pay(client, order.pk, {"channel": "gift_card", "gift_card": card.pk}, key="same")
    other = UserFactory(phone="13800000002")
    their_order = submit(other, store, menu)
    their_card = gift_card_for(other, store.brand, "100.00")
    api_client.force_authenticate(other)

    response = pay(api_client, their_order.pk, {"channel": "gift_card", "gift_card": their_card.pk}, key="same")

    assert response.status_code == 201
    assert Payment.objects.count() == 2


def test_malformed_idempotency_key_is_400(client, order, card):
    before = state()
    response = pay(client, order.pk, {"channel": "gift_card", "gift_card": card.pk}, key="k" * 101)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
    assert state() == before


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"channel": "bitcoin"}, "unknown_channel"),
        ({"channel": ""}, "invalid"),
        ({}, "invalid"),
        ({"channel": "gift_card"}, "invalid_gift_card"),
        ({"channel": "gift_card", "gift_card": 987654321}, "invalid_gift_card"),
        ({"channel": "gift_card", "gift_card_code": "1234567890123456"}, "invalid_gift_card"),
        ({"channel": "gift_card", "gift_card": "abc"}, "invalid"),
        ({"channel": "gift_card", "gift_card": 2**70}, "invalid"),
        ({"channel": "gift_card", "gift_card_code": "x" * 33}, "invalid"),
        ({"channel": "gift_card", "amount": "abc"}, "invalid"),
        ({"channel": "gift_card", "amount": "12.505"}, "invalid"),
        ({"channel": "gift_card", "amount": "NaN"}, "invalid"),
        ({"channel": "gift_card", "amount": "-5.00"}, "invalid_amount"),
        ({"channel": "gift_card", "amount": "0"}, "invalid_amount"),
    ],
)
def test_bad_input_is_400_and_charges_nothing(client, order, card, data, code):
    before = state()
    response = pay(client, order.pk, data)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert state() == before


def test_another_customers_card_answers_like_a_wrong_one(client, order, brand):
    theirs = gift_card_for(UserFactory(phone="13800000002"), brand, "100.00")
    before = state()
    for data in ({"gift_card": theirs.pk}, {"gift_card_code": theirs.code}):
        response = pay(client, order.pk, {"channel": "gift_card", **data})
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_gift_card"
    assert state() == before


def test_another_brands_card_is_refused(client, order, customer):
    rival_card = gift_card_for(customer, BrandFactory(code="rival"), "100.00")
    before = state()
    response = pay(client, order.pk, {"channel": "gift_card", "gift_card": rival_card.pk})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_gift_card"
    assert state() == before


def test_insufficient_balance_is_409(client, order, customer, brand):
    poor = gift_card_for(customer, brand, "10.00")
    before = state()
    response = pay(client, order.pk, {"channel": "gift_card", "gift_card": poor.pk})
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_balance"
    assert state() == before


def test_paying_more_than_the_total_is_409(client, order, card):
    before = state()
    response = pay(client, order.pk, {"channel": "gift_card", "gift_card": card.pk, "amount": "45.01"})
    assert response.status_code == 409
    assert response.json()["code"] == "over_total"
    assert state() == before


def test_expired_order_is_409(client, order, card):
    # Its time ran out (the expiry task has not run yet): move the deadline, not the status.
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    before = state()
    response = pay(client, order.pk, {"channel": "gift_card", "gift_card": card.pk})
    assert response.status_code == 409
    assert response.json()["code"] == "order_expired"
    assert state() == before


def test_cancelled_order_is_409(client, order, card, customer):
    order_cancel(actor=customer, order_id=order.pk)
    before = state()
    response = pay(client, order.pk, {"channel": "gift_card", "gift_card": card.pk})
    assert response.status_code == 409
    assert response.json()["code"] == "order_cancelled"
    assert state() == before


def test_already_paid_order_is_409(client, customer, store, menu, card):
    order = paid_order(customer, store, menu)
    before = state()
    response = pay(client, order.pk, {"channel": "gift_card", "gift_card": card.pk})
    assert response.status_code == 409
    assert response.json()["code"] == "already_paid"
    assert state() == before


def test_another_customers_order_and_unknown_order_are_404(client, store, menu, card):
    theirs = submit(UserFactory(phone="13800000002"), store, menu)
    before = state()
    for order_id in (theirs.pk, uuid.uuid4()):
        response = pay(client, order_id, {"channel": "gift_card", "gift_card": card.pk})
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert state() == before


def test_counter_channel_is_for_staff_only(client, order, api_client, store, store_manager):
    before = state()
    response = pay(client, order.pk, {"channel": "counter"})
    assert response.status_code == 403
    assert response.json()["code"] == "not_yours"
    assert state() == before

    other_store = StoreFactory(brand=store.brand, code="SH002")
    stranger = make_staff(role=Role.STORE_MANAGER, brand=store.brand, stores=[other_store], phone="13700000009")
    api_client.force_authenticate(stranger)
    assert pay(api_client, order.pk, {"channel": "counter"}).status_code == 403
    assert state() == before

    api_client.force_authenticate(store_manager)
    online = pay(api_client, order.pk, {"channel": "counter", "reference": "POS-0001"})
    assert online.status_code == 409  # a customer's online order is paid by the customer
    assert state() == before

    dumplings = order.lines.get(dish_code="dumplings").dish_id
    kiosk_order = submit(None, store, None, lines=[LineRequest(dumplings, 1)], source="kiosk")
    response = pay(api_client, kiosk_order.pk, {"channel": "counter", "reference": "POS-0001"})
    assert response.status_code == 201
    assert response.json()["order"]["status"] == "paid"
    payment = Payment.objects.get()
    assert (payment.channel, payment.provider_trade_no, payment.created_by) == ("counter", "POS-0001", store_manager)


def test_frozen_customer_cannot_pay(client, order, card, customer):
    customer.is_frozen, customer.frozen_at = True, timezone.now()
    customer.save()
    before = state()
    response = pay(client, order.pk, {"channel": "gift_card", "gift_card": card.pk})
    assert response.status_code == 403
    assert response.json()["code"] == "account_frozen"
    assert state() == before


def test_unauthenticated_is_refused_with_json(api_client, order, card):
    before = state()
    response = pay(api_client, order.pk, {"channel": "gift_card", "gift_card": card.pk})
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"
    assert state() == before


def test_token_authentication(api_client, customer, order, card):
    token = Token.objects.create(user=customer)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = pay(api_client, order.pk, {"channel": "gift_card", "gift_card": card.pk})
    assert response.status_code == 201
    assert Payment.objects.get().created_by == customer


def test_schema_documents_the_payment_endpoint(api_client, tmp_path):
    paths = api_client.get("/api/schema/?format=json").json()["paths"]
    operation = paths["/api/v1/orders/{order_id}/payments/"]["post"]
    assert {"201", "200", "400", "403", "404", "409"} <= set(operation["responses"])
    assert any(p["name"] == "Idempotency-Key" and not p.get("required") for p in operation["parameters"])

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/v1/orders/{order_id}/payments/" in out.read_text()


def _concurrently(count: int, work) -> list:
    """Run ``work(i)`` in ``count`` threads released together; each closes its own connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", [None, "same-key"])
def test_simultaneous_identical_payments_charge_once(customer, order, card, key):
    def work(_i):
        client = APIClient()
        client.force_authenticate(customer)
        return pay(client, order.pk, {"channel": "gift_card", "gift_card": card.pk}, key=key).status_code

    statuses = sorted(_concurrently(4, work))

    assert statuses.count(201) == 1
    assert all(status in (200, 409) for status in statuses if status != 201)
    assert Payment.objects.count() == 1
    card.refresh_from_db()
    assert card.balance == Decimal("55.00")
    assert GiftCardEntry.objects.filter(card=card).count() == 2


def test_typed_card_numbers_are_limited_per_hour(client, order, card):
    from payments.throttles import BIND_ATTEMPTS_PER_WINDOW

    for i in range(BIND_ATTEMPTS_PER_WINDOW):
        assert pay(client, order.pk, {"channel": "gift_card", "gift_card_code": f"{i:016d}"}).status_code == 400
    limited = pay(client, order.pk, {"channel": "gift_card", "gift_card_code": card.code})
    assert limited.status_code == 429 and limited.json()["code"] == "throttled"
    assert Payment.objects.count() == 0
