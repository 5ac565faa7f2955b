"""Pickup screen: the numbers being prepared and ready for pickup, refreshed by polling; no buttons."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from ordering.services import order_bump, order_redeem
from tests.ordering.factories import paid_order, submit
from tests.ordering.test_kitchen_support import HTMX, client_for, staff, unlimited_lines

pytestmark = pytest.mark.django_db


def numbers(html: str, column: str) -> list[str]:
    match = re.search(rf'pickup-column--{column}".*?</section>', html, re.S)
    assert match, f"column {column} not rendered"
    return re.findall(r'<li class="pickup-number"[^>]*>(\d+)</li>', match.group(0))


def test_pickup_screen_lists_preparing_and_ready_numbers(customer, store, menu):
    cook = staff(store.brand, [store], phone="13922220001")
    orders = [paid_order(customer, store, menu, lines=unlimited_lines(menu)) for _ in range(4)]
    submit(customer, store, menu, lines=unlimited_lines(menu))  # 005: unpaid, not on the screen
    for order in orders[1:]:
        order_bump(actor=cook, order_id=order.pk, move="start")
    for order in orders[2:]:
        order_bump(actor=cook, order_id=order.pk, move="ready")
    collected = orders[3]
    order_redeem(actor=cook, store=store, pickup_code=collected.pickup_code)

    url = reverse("ordering:pickup-screen", kwargs={"store_code": store.code})
    response = client_for(cook).get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert numbers(html, "preparing") == ["001", "002"]
    assert numbers(html, "ready") == ["003"]
    assert "Ready for pickup" in html
    board_url = reverse("ordering:pickup-board", kwargs={"store_code": store.code})
    assert f'hx-get="{board_url}" hx-trigger="every 3s"' in html
    assert "<form" not in html.split('id="pickup-board"')[1]  # a display: no buttons


def test_pickup_board_partial_follows_the_kitchen(customer, store, menu):
    cook = staff(store.brand, [store], phone="13922220002")
    order = paid_order(customer, store, menu)
    client = client_for(cook)
    url = reverse("ordering:pickup-board", kwargs={"store_code": store.code})
    html = client.get(url, **HTMX).content.decode()
    assert "<html" not in html
    assert numbers(html, "preparing") == ["001"] and numbers(html, "ready") == []
    order_bump(actor=cook, order_id=order.pk, move="start")
    order_bump(actor=cook, order_id=order.pk, move="ready")
    html = client.get(url, **HTMX).content.decode()
    assert numbers(html, "preparing") == [] and numbers(html, "ready") == ["001"]


def test_pickup_screen_is_for_staff_of_the_store(customer, store):
    url = reverse("ordering:pickup-screen", kwargs={"store_code": store.code})
    assert client_for().get(url).status_code == 302
    assert client_for(customer).get(url).status_code == 403
