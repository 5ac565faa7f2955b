"""The customer's order pages: one order with its live status block, cancelling, and the list."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from ordering.models import CancelReason, Order, OrderStatus
from ordering.services import LineRequest, order_bump, order_redeem, orders_expire_due
from stores.models import StoreDishOverride
from tests.accounts.factories import UserFactory
from tests.ordering.factories import paid_order, submit

pytestmark = pytest.mark.django_db

POLL = 'hx-trigger="every 3s"'


@pytest.fixture
def en_client(client, customer):
    client.force_login(customer)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def detail_url(order) -> str:
    return reverse("ordering:order-detail", kwargs={"order_id": order.pk})


def status_url(order) -> str:
    return reverse("ordering:order-status", kwargs={"order_id": order.pk})


def cancel_url(order) -> str:
    return reverse("ordering:order-cancel", kwargs={"order_id": order.pk})


def _version(html: str) -> str:
    match = re.search(r"\?v=([^\"&]+)", html)
    assert match, "the status block has no poll URL"
    return match.group(1)


# --- The order page ---


def test_order_page_of_an_unpaid_order(en_client, customer, store, menu):
    order = submit(customer, store, menu)
    response = en_client.get(detail_url(order))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"Order {order.display_number}" in html
    assert store.name in html
    assert "Beef noodles" in html and "Hot" in html and "Dumplings" in html
    assert "× 2" in html and "¥12.50 each" in html
    assert "¥45.00" in html  # total and due
    assert "Awaiting payment" in html
    assert "Pay before" in html and 'class="countdown"' in html
    assert reverse("payments:order-pay", kwargs={"order_id": order.pk}) in html
    assert cancel_url(order) in html
    assert POLL in html
    assert "Pickup code" not in html


def test_order_page_after_payment_shows_pickup_code_and_qr(en_client, customer, store, menu):
    order = paid_order(customer, store, menu, note="No coriander")
    html = en_client.get(detail_url(order)).content.decode()
    assert order.status == OrderStatus.PAID and len(order.pickup_code) == 6
    assert f'<p class="pickup-code">{order.pickup_code}</p>' in html
    assert '<svg' in html and 'class="qr"' in html and f"<title>{order.pickup_code}</title>" in html
    assert "No coriander" in html
    # Money facts: paid in full, nothing due, no pay or cancel button any more.
    assert re.search(r"<dt>Paid</dt><dd>¥45.00</dd>", html)
    assert "To pay" not in html
    assert cancel_url(order) not in html
    assert reverse("payments:order-pay", kwargs={"order_id": order.pk}) not in html
    assert POLL in html  # still moving: preparing, ready...


def test_order_page_shows_table_and_progress(en_client, customer, store, menu, store_manager):
    order = paid_order(customer, store, menu, fulfilment="dine_in", table="A1")
    order_bump(actor=store_manager, order_id=order.pk, move="start")
    html = en_client.get(detail_url(order)).content.decode()
    assert "Table" in html and "A1" in html
    steps = re.findall(r'<li class="step (\w+)"', html)
    assert steps == ["done", "done", "current", "todo", "todo"]
    assert 'aria-current="step"><span class="dot" aria-hidden="true"></span><span class="step-label">Preparing' in html


def test_another_customers_order_is_not_found(client, customer, store, menu):
    order = paid_order(customer, store, menu)
    client.force_login(UserFactory(phone="13800000009"))
    assert client.get(detail_url(order)).status_code == 404
    assert client.get(status_url(order), HTTP_HX_REQUEST="true").status_code == 404
    assert client.post(cancel_url(order)).status_code == 404
    unknown = reverse("ordering:order-detail", kwargs={"order_id": "00000000-0000-0000-0000-000000000000"})
    assert client.get(unknown).status_code == 404


def test_order_pages_need_a_login(client, customer, store, menu):
    order = submit(customer, store, menu)
    response = client.get(detail_url(order))
    assert response.status_code == 302 and reverse("accounts:login") in response["Location"]
    assert client.get(reverse("ordering:order-list")).status_code == 302
    # A logged-out poll stops polling (HTMX 286) instead of swapping the login page in.
    assert client.get(status_url(order), HTTP_HX_REQUEST="true").status_code == 286
    assert client.post(cancel_url(order)).status_code == 302
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT


# --- The status block ---


def test_status_partial_polls_until_final(en_client, customer, store, menu, store_manager,
                                          django_assert_max_num_queries):
    order = paid_order(customer, store, menu)
    with django_assert_max_num_queries(6):
        response = en_client.get(status_url(order), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="order-status"')
    assert POLL in html and 'hx-swap="outerHTML"' in html
    assert order.pickup_code in html and "<svg" in html
    assert "<html" not in html  # a fragment, not a page

    order_bump(actor=store_manager, order_id=order.pk, move="start")
    order_bump(actor=store_manager, order_id=order.pk, move="ready")
    html = en_client.get(status_url(order), HTTP_HX_REQUEST="true").content.decode()
    assert "Your order is ready" in html and POLL in html

    order_redeem(actor=store_manager, store=store, pickup_code=order.pickup_code)
    html = en_client.get(status_url(order), HTTP_HX_REQUEST="true").content.decode()
    assert "Collected at" in html
    assert "hx-trigger" not in html and "hx-get" not in html  # final: the poll stops
    assert "<svg" not in html  # the code was used


def test_status_partial_answers_204_when_nothing_changed(en_client, customer, store, menu):
    order = submit(customer, store, menu)
    html = en_client.get(status_url(order), HTTP_HX_REQUEST="true").content.decode()
    version = _version(html)
    same = en_client.get(status_url(order), {"v": version}, HTTP_HX_REQUEST="true")
    assert same.status_code == 204 and same.content == b""

    from payments.services import payment_create
    from tests.ordering.factories import gift_card_for

    card = gift_card_for(customer, store.brand)
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    changed = en_client.get(status_url(order), {"v": version}, HTTP_HX_REQUEST="true")
    assert changed.status_code == 200
    order.refresh_from_db()
    assert order.pickup_code in changed.content.decode()


def test_status_partial_of_a_cancelled_order_stops_polling(en_client, customer, store, menu):
    order = submit(customer, store, menu)
    orders_expire_due(now=order.expires_at + timedelta(minutes=1))
    html = en_client.get(status_url(order), HTTP_HX_REQUEST="true").content.decode()
    assert "This order was cancelled." in html
    assert "Not paid in time" in html
    assert "Nothing was charged." in html
    assert "hx-trigger" not in html


def test_unpaid_order_past_its_time_says_so(en_client, customer, store, menu):
    order = submit(customer, store, menu)
    with time_machine.travel(order.expires_at + timedelta(seconds=30), tick=False):
        html = en_client.get(detail_url(order)).content.decode()
    assert "The time to pay ran out at" in html
    assert reverse("payments:order-pay", kwargs={"order_id": order.pk}) not in html
    assert POLL in html  # the expiry task will cancel it; the page will show that


# --- Cancelling ---


def test_cancel_from_the_page_releases_stock(en_client, customer, store, menu):
    order = submit(customer, store, menu)
    assert StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock == 8
    response = en_client.post(cancel_url(order))
    assert response.status_code == 302 and response["Location"] == detail_url(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and order.cancel_reason == CancelReason.CUSTOMER
    assert StoreDishOverride.objects.get(pk=menu.dumplings_stock.pk).stock == 10
    html = en_client.get(detail_url(order)).content.decode()
    assert f"Order {order.display_number} was cancelled; nothing was charged." in html
    assert "Cancelled by the customer" in html
    assert "hx-trigger" not in html
    assert cancel_url(order) not in html


def test_cancel_of_a_paid_order_is_refused(en_client, customer, store, menu):
    order = paid_order(customer, store, menu)
    response = en_client.post(cancel_url(order), follow=True)
    assert response.status_code == 200
    assert "Only an order awaiting payment can be cancelled" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_cancel_needs_post(en_client, customer, store, menu):
    order = submit(customer, store, menu)
    assert en_client.get(cancel_url(order)).status_code == 405
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT


# --- My orders ---


def _tea_orders(customer, store, menu, n: int) -> list[Order]:
    return [
        submit(customer, store, menu, lines=[LineRequest(dish_id=menu.tea.pk, quantity=i + 1)]) for i in range(n)
    ]


def test_my_orders_lists_own_orders_newest_first(en_client, customer, store, menu, django_assert_max_num_queries):
    mine = _tea_orders(customer, store, menu, 25)
    other = submit(UserFactory(phone="13800000008"), store, menu)
    with django_assert_max_num_queries(8):
        response = en_client.get(reverse("ordering:order-list"))
    html = response.content.decode()
    links = re.findall(r'href="/orders/([0-9a-f-]{36})/"', html)
    newest_first = [str(order.pk) for order in reversed(mine)]
    assert links == newest_first[:20]
    assert str(other.pk) not in html
    assert "Awaiting payment" in html and "Tea × 25" in html
    assert "Page 1 of 2" in html

    with django_assert_max_num_queries(8):
        second = en_client.get(reverse("ordering:order-list"), {"page": 2}).content.decode()
    assert re.findall(r'href="/orders/([0-9a-f-]{36})/"', second) == newest_first[20:]


def test_my_orders_shows_status_badges(en_client, customer, store, menu):
    paid = paid_order(customer, store, menu)
    pending = submit(customer, store, menu, lines=[LineRequest(dish_id=menu.tea.pk, quantity=1)])
    html = en_client.get(reverse("ordering:order-list")).content.decode()
    assert '<span class="badge status-paid">Paid</span>' in html
    assert '<span class="badge status-pending_payment">Awaiting payment</span>' in html
    assert detail_url(paid) in html and detail_url(pending) in html
    assert "¥45.00" in html and "¥5.00" in html


def test_my_orders_empty(en_client):
    html = en_client.get(reverse("ordering:order-list")).content.decode()
    assert "You have no orders yet." in html


def test_nav_links_for_logged_in_users(en_client, client):
    html = en_client.get(reverse("ordering:order-list")).content.decode()
    assert f'href="{reverse("ordering:order-list")}">My orders' in html
    assert f'href="{reverse("payments:gift-cards")}">Gift cards' in html


def test_order_page_money_is_decimal(customer, store, menu):
    order = submit(customer, store, menu)
    from ordering.views.orders import status_context

    context = status_context(order)
    assert context["money"].due == Decimal("45.00") and isinstance(context["money"].due, Decimal)
    assert context["can_pay"] is True and context["final"] is False
