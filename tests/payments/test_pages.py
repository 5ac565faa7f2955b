"""The customer's payment pages: paying an order with a gift card, and binding gift cards."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.urls import reverse

from ordering.models import Order, OrderStatus
from ordering.services import order_cancel
from payments.errors import PaymentNotAllowed
from payments.models import GiftCard, GiftCardEntry, GiftCardEntryKind, Payment, PaymentStatus
from payments.services import gift_card_issue, gift_card_top_up, payment_create
from payments.throttles import BIND_ATTEMPTS_PER_WINDOW
from tests.accounts.factories import UserFactory
from tests.ordering.factories import Menu, gift_card_for, submit

pytestmark = pytest.mark.django_db

CARD_NUMBER = "6200123412345678"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def en_client(client, customer):
    client.force_login(customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def pay_url(order) -> str:
    return reverse("payments:order-pay", kwargs={"order_id": order.pk})


def detail_url(order) -> str:
    return reverse("ordering:order-detail", kwargs={"order_id": order.pk})


def unbound_card(brand, amount="100.00", code=CARD_NUMBER) -> GiftCard:
    return gift_card_issue(actor=None, brand=brand, amount=Decimal(amount), code=code)


def assert_nothing_changed(order, card=None, *, balance=None, entries=1):
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT and order.pickup_code == ""
    assert not Payment.objects.filter(order=order).exists()
    if card is not None:
        card.refresh_from_db()
        assert card.balance == Decimal(balance)
        assert card.entries.count() == entries


# --- The pay page ---


def test_pay_page_shows_due_and_bound_cards(en_client, customer, brand, other_brand, order, card):
    gift_card_for(customer, other_brand, "900.00")  # another brand's card: not for this order
    gift_card_for(UserFactory(phone="13800000009"), brand, "800.00")  # somebody else's card
    low = gift_card_for(customer, brand, "10.00")
    html = en_client.get(pay_url(order)).content.decode()
    assert "¥45.00" in html
    assert card.masked_code in html and "Balance ¥100.00" in html
    assert low.masked_code in html and "Not enough" in html
    assert f'value="{low.pk}" disabled' in html
    assert f'value="{card.pk}" checked' in html
    assert "¥900.00" not in html and "¥800.00" not in html
    assert "Pay before" in html and "Pay ¥45.00" in html
    assert 'name="channel" value="counter"' not in html  # staff only


def test_pay_with_a_bound_card(en_client, order, card):
    response = en_client.post(pay_url(order), {"channel": "gift_card", "card": str(card.pk)})
    assert response.status_code == 302 and response["Location"] == detail_url(order)
    order.refresh_from_db()
    card.refresh_from_db()
    assert order.status == OrderStatus.PAID and len(order.pickup_code) == 6
    assert card.balance == Decimal("55.00")
    payment = Payment.objects.get(order=order)
    assert payment.status == PaymentStatus.SUCCEEDED and payment.amount == Decimal("45.00")
    assert payment.gift_card_id == card.pk
    entry = card.entries.get(kind=GiftCardEntryKind.PAYMENT)
    assert entry.amount == Decimal("-45.00") and entry.balance_after == Decimal("55.00")
    assert entry.payment_id == payment.pk
    assert sum(e.amount for e in card.entries.all()) == card.balance
    html = en_client.get(detail_url(order)).content.decode()
    assert f"Paid ¥45.00. Your pickup code is {order.pickup_code}." in html


def test_pay_with_a_typed_card_number(en_client, brand, order):
    card = unbound_card(brand)
    spaced = " ".join(CARD_NUMBER[i:i + 4] for i in range(0, 16, 4))
    response = en_client.post(pay_url(order), {"channel": "gift_card", "card": "code", "gift_card_code": spaced})
    assert response.status_code == 302
    order.refresh_from_db()
    card.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert card.balance == Decimal("55.00") and card.owner_id is None  # paying does not bind it
    assert Payment.objects.get(order=order).gift_card_id == card.pk


def test_typed_number_without_bound_cards_needs_no_radio(en_client, brand, order):
    unbound_card(brand)
    html = en_client.get(pay_url(order)).content.decode()
    assert 'value="code" checked' in html
    response = en_client.post(pay_url(order), {"channel": "gift_card", "gift_card_code": CARD_NUMBER})
    assert response.status_code == 302
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_wrong_card_number_is_a_form_error(en_client, brand, order):
    card = unbound_card(brand)
    response = en_client.post(
        pay_url(order), {"channel": "gift_card", "card": "code", "gift_card_code": "6200123412340000"}
    )
    assert response.status_code == 200
    assert "This gift card number is not valid." in response.content.decode()
    assert_nothing_changed(order, card, balance="100.00")


def test_another_customers_bound_card_number_is_refused(en_client, brand, order):
    card = gift_card_for(UserFactory(phone="13800000009"), brand, "100.00")
    response = en_client.post(pay_url(order), {"channel": "gift_card", "card": "code", "gift_card_code": card.code})
    assert "This gift card number is not valid." in response.content.decode()
    assert_nothing_changed(order, card, balance="100.00")


def test_insufficient_balance_changes_nothing(en_client, customer, brand, order):
    card = gift_card_for(customer, brand, "10.00")
    response = en_client.post(pay_url(order), {"channel": "gift_card", "card": str(card.pk)})
    assert response.status_code == 200
    assert f"Not enough on gift card {card.masked_code}: 10.00 CNY left." in response.content.decode()
    assert_nothing_changed(order, card, balance="10.00")


def test_expired_order_cannot_be_paid(en_client, order, card):
    with time_machine.travel(order.expires_at + timedelta(minutes=1), tick=False):
        page = en_client.get(pay_url(order)).content.decode()
        response = en_client.post(pay_url(order), {"channel": "gift_card", "card": str(card.pk)})
    assert "The time to pay this order ran out" in page and "Pay ¥45.00" not in page
    assert response.status_code == 200
    assert "This order expired at" in response.content.decode()
    assert_nothing_changed(order, card, balance="100.00")


def test_cancelled_order_cannot_be_paid(en_client, customer, order, card):
    order_cancel(actor=customer, order_id=order.pk)
    page = en_client.get(pay_url(order)).content.decode()
    response = en_client.post(pay_url(order), {"channel": "gift_card", "card": str(card.pk)})
    assert "This order was cancelled, so it cannot be paid." in page
    assert "This order was cancelled; nothing was charged." in response.content.decode()
    order.refresh_from_db()
    card.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and card.balance == Decimal("100.00")
    assert not Payment.objects.filter(order=order).exists()


@pytest.mark.parametrize(
    "data",
    [
        {"channel": "gift_card", "card": "not-a-card"},
        {"channel": "gift_card", "card": "999999"},
        {"channel": "counter"},  # staff only
        {"channel": "bitcoin"},
        {"channel": "gift_card", "card": "code", "gift_card_code": ""},
        {"channel": "gift_card", "card": "code", "gift_card_code": "x" * 500},
        {},
    ],
)
def test_bad_input_is_a_form_error(en_client, order, card, data):
    response = en_client.post(pay_url(order), data)
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert_nothing_changed(order, card, balance="100.00")


def test_somebody_elses_bound_card_id_is_refused(en_client, brand, order):
    theirs = gift_card_for(UserFactory(phone="13800000009"), brand, "100.00")
    response = en_client.post(pay_url(order), {"channel": "gift_card", "card": str(theirs.pk)})
    assert 'class="errorlist' in response.content.decode()
    assert_nothing_changed(order, theirs, balance="100.00")


def test_double_submit_charges_once(en_client, order, card):
    data = {"channel": "gift_card", "card": str(card.pk)}
    first = en_client.post(pay_url(order), data)
    second = en_client.post(pay_url(order), data)
    assert first.status_code == second.status_code == 302
    assert second["Location"] == detail_url(order)
    card.refresh_from_db()
    assert card.balance == Decimal("55.00")
    assert Payment.objects.filter(order=order).count() == 1
    assert card.entries.filter(kind=GiftCardEntryKind.PAYMENT).count() == 1
    html = en_client.get(detail_url(order)).content.decode()
    assert "This order is already paid; nothing more was charged." in html


def test_the_service_refuses_a_second_payment_and_over_total(customer, order, card):
    with pytest.raises(PaymentNotAllowed) as over:
        payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk},
                       amount="45.01")
    assert over.value.code == "over_total"
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    with pytest.raises(PaymentNotAllowed) as again:
        payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    assert again.value.code == "already_paid"
    card.refresh_from_db()
    assert card.balance == Decimal("55.00") and Payment.objects.filter(order=order).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_submits_charge_once(customer, store, brand):
    order = submit(customer, store, Menu(store))
    card = gift_card_for(customer, brand, "100.00")
    barrier = threading.Barrier(2)
    statuses = []

    def pay():
        client = Client()
        client.force_login(customer)
        try:
            barrier.wait(timeout=5)
            statuses.append(client.post(pay_url(order), {"channel": "gift_card", "card": str(card.pk)}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [302, 302]
    card.refresh_from_db()
    assert card.balance == Decimal("55.00")
    assert Payment.objects.filter(order=order, status=PaymentStatus.SUCCEEDED).count() == 1
    assert GiftCardEntry.objects.filter(card=card, kind=GiftCardEntryKind.PAYMENT).count() == 1


def test_paid_order_pay_page_redirects_to_the_order(en_client, order, card):
    en_client.post(pay_url(order), {"channel": "gift_card", "card": str(card.pk)})
    response = en_client.get(pay_url(order))
    assert response.status_code == 302 and response["Location"] == detail_url(order)


def test_another_customers_order_is_not_found(client, order, card):
    client.force_login(UserFactory(phone="13800000009"))
    assert client.get(pay_url(order)).status_code == 404
    assert client.post(pay_url(order), {"channel": "gift_card", "card": str(card.pk)}).status_code == 404
    assert_nothing_changed(order, card, balance="100.00")


def test_pay_page_needs_a_login(client, order):
    response = client.get(pay_url(order))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_kiosk_order_paid_by_a_logged_in_user(client, customer, store, menu, brand):
    order = submit(None, store, menu, source="kiosk")
    card = gift_card_for(customer, brand, "100.00")
    client.force_login(customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "Pay ¥45.00" in client.get(pay_url(order)).content.decode()
    response = client.post(pay_url(order), {"channel": "gift_card", "card": str(card.pk)})
    assert response.status_code == 302 and response["Location"] == pay_url(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    receipt = client.get(pay_url(order)).content.decode()
    assert order.pickup_code in receipt and "<svg" in receipt
    # Somebody else who knows the address learns nothing more than "paid".
    stranger = Client()
    stranger.force_login(UserFactory(phone="13800000009"))
    stranger.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = stranger.get(pay_url(order)).content.decode()
    assert "already paid" in html and order.pickup_code not in html


# --- Gift cards page ---


def gift_cards_url() -> str:
    return reverse("payments:gift-cards")


def test_gift_cards_page_lists_bound_cards_with_recent_entries(en_client, customer, brand, other_brand,
                                                                django_assert_max_num_queries):
    card = gift_card_for(customer, brand, "100.00")
    for i in range(12):
        gift_card_top_up(actor=None, card_id=card.pk, amount=f"{i + 1}.00")
    other = gift_card_for(customer, other_brand, "30.00")
    gift_card_for(UserFactory(phone="13800000009"), brand, "777.00")
    with django_assert_max_num_queries(8):
        response = en_client.get(gift_cards_url())
    html = response.content.decode()
    card.refresh_from_db()
    assert card.balance == Decimal("178.00")
    assert card.masked_code in html and other.masked_code in html
    assert card.code not in html  # only masked
    assert brand.name in html and other_brand.name in html
    assert "¥178.00" in html and "¥30.00" in html and "¥777.00" not in html
    assert html.count("<tr>") - 2 == 10 + 1  # header rows of two tables; 10 + 1 entries
    assert "+¥12.00" in html and "+¥3.00" in html and "+¥2.00" not in html  # the last ten top-ups


def test_bind_a_card(en_client, customer, brand):
    card = unbound_card(brand)
    response = en_client.post(gift_cards_url(), {"code": "6200 1234 1234 5678"})
    assert response.status_code == 302 and response["Location"] == gift_cards_url()
    card.refresh_from_db()
    assert card.owner_id == customer.pk and card.bound_at is not None
    html = en_client.get(gift_cards_url()).content.decode()
    assert f"Gift card {card.masked_code} was added to your account." in html
    assert "¥100.00" in html


@pytest.mark.parametrize("code", ["6200123412340000", "62001234", "abcdefghijklmnop", ""])
def test_bind_a_wrong_number(en_client, brand, code):
    card = unbound_card(brand)
    response = en_client.post(gift_cards_url(), {"code": code})
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    card.refresh_from_db()
    assert card.owner_id is None


def test_a_card_bound_to_someone_else_answers_like_a_wrong_number(en_client, brand):
    theirs = gift_card_for(UserFactory(phone="13800000009"), brand, "100.00")
    unbound_card(brand)
    wrong = en_client.post(gift_cards_url(), {"code": "6200123412340000"}).content.decode()
    taken = en_client.post(gift_cards_url(), {"code": theirs.code}).content.decode()
    message = "This gift card number is not valid."
    assert message in wrong and message in taken
    theirs.refresh_from_db()
    assert theirs.owner.phone == "13800000009"


def test_binding_is_rate_limited(en_client, customer, brand):
    card = unbound_card(brand)
    for i in range(BIND_ATTEMPTS_PER_WINDOW):
        en_client.post(gift_cards_url(), {"code": f"62001234123400{i:02d}"})
    response = en_client.post(gift_cards_url(), {"code": CARD_NUMBER})  # the right number, too late
    html = response.content.decode()
    assert response.status_code == 429
    assert "Too many card numbers tried." in html
    assert "You have tried 10 card numbers in the last hour." in html
    card.refresh_from_db()
    assert card.owner_id is None
    assert "You can try again at" in en_client.get(gift_cards_url()).content.decode()
    # Per user: somebody else may still bind.
    other = Client()
    other.force_login(UserFactory(phone="13800000009"))
    assert other.post(gift_cards_url(), {"code": CARD_NUMBER}).status_code == 302
    card.refresh_from_db()
    assert card.owner.phone == "13800000009"


def test_rate_limit_window_ends(en_client, customer, brand):
    card = unbound_card(brand)
    for i in range(BIND_ATTEMPTS_PER_WINDOW):
        en_client.post(gift_cards_url(), {"code": f"62001234123400{i:02d}"})
    assert "Too many" in en_client.post(gift_cards_url(), {"code": CARD_NUMBER}).content.decode()
    cache.clear()  # the hour is over (the keys expire with the window)
    assert en_client.post(gift_cards_url(), {"code": CARD_NUMBER}).status_code == 302
    card.refresh_from_db()
    assert card.owner_id == customer.pk


def test_gift_cards_page_needs_a_login(client):
    response = client.get(gift_cards_url())
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]


def test_gift_cards_page_empty(en_client):
    html = en_client.get(gift_cards_url()).content.decode()
    assert "You have no gift cards yet." in html


def test_paying_by_typed_numbers_counts_against_the_same_hourly_limit(client, customer, store):
    from tests.ordering.factories import Menu, submit

    order = submit(customer, store, Menu(store))
    client.force_login(customer)
    for i in range(BIND_ATTEMPTS_PER_WINDOW):
        client.post(f"/orders/{order.pk}/pay/", {"channel": "gift_card", "card": "code",
                                                 "gift_card_code": f"{i:016d}"})
    page = client.post(f"/orders/{order.pk}/pay/", {"channel": "gift_card", "card": "code",
                                                    "gift_card_code": "1" * 16}, HTTP_ACCEPT_LANGUAGE="en")
    assert "Too many card numbers tried" in page.content.decode()
