"""Kitchen display (KDS): who may open it, what a ticket shows, bump / recall, stale clicks, alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from ordering.models import Order, OrderStatus
from ordering.services import order_bump
from tests.ordering.factories import paid_order, submit
from tests.ordering.test_kitchen_support import HTMX, client_for, lane, staff, unlimited_lines
from tests.stores.factories import BrandFactory, StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cook(brand, store):
    return staff(brand, [store], phone="13911110001")


@pytest.fixture
def other_store(brand):
    return StoreFactory(brand=brand, code="SH002")


def kitchen_url(store, name="ordering:kitchen"):
    return reverse(name, kwargs={"store_code": store.code})


def bump_url(order, name="ordering:kitchen-bump"):
    return reverse(name, kwargs={"store_code": order.store.code, "order_id": order.pk})


# --- Access ---


@pytest.mark.parametrize("name", ["ordering:kitchen", "ordering:kitchen-board", "ordering:pickup-screen",
                                  "ordering:pickup-board", "ordering:counter", "ordering:counter-kiosk"])
def test_anonymous_is_sent_to_the_staff_login(store, name):
    url = kitchen_url(store, name)
    response = client_for().get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login") + "?next=")
    assert url in response["Location"].replace("%2F", "/")


def test_anonymous_poll_redirects_the_whole_page(store):
    page = kitchen_url(store)
    response = client_for().get(
        kitchen_url(store, "ordering:kitchen-board"), HTTP_HX_CURRENT_URL=f"http://testserver{page}", **HTMX
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{reverse('admin:login')}?next={page}"


def test_kitchen_staff_opens_their_store_and_no_other(cook, store, other_store):
    client = client_for(cook)
    response = client.get(kitchen_url(store))
    assert response.status_code == 200
    assert store.name in response.content.decode()
    assert client.get(kitchen_url(other_store)).status_code == 404
    rival = StoreFactory(brand=BrandFactory(code="rival2"), code="BJ001")
    assert client.get(kitchen_url(rival)).status_code == 404
    assert client.get("/kitchen/NOPE/").status_code == 404


def test_managers_of_the_store_and_brand_may_open_it(store, other_store, hq_manager, store_manager):
    assert client_for(hq_manager).get(kitchen_url(other_store)).status_code == 200
    assert client_for(store_manager).get(kitchen_url(store)).status_code == 200
    assert client_for(store_manager).get(kitchen_url(other_store)).status_code == 404


def test_customer_is_refused(customer, store):
    response = client_for(customer).get(kitchen_url(store))
    assert response.status_code == 403
    assert "<h1>You cannot use this store's screens</h1>" in response.content.decode()


def test_frozen_staff_and_canteen_staff_get_nothing(brand, store, cook):
    cook.is_frozen, cook.frozen_at = True, timezone.now()
    cook.save()
    assert client_for(cook).get(kitchen_url(store)).status_code == 403
    canteen = staff(brand, [store], phone="13911110009", role=Role.CANTEEN_STAFF)
    assert client_for(canteen).get(kitchen_url(store)).status_code == 403


def test_refused_poll_reloads_the_page(customer, store):
    response = client_for(customer).get(kitchen_url(store, "ordering:kitchen-board"), **HTMX)
    assert response.status_code == 403
    assert response["HX-Refresh"] == "true"


# --- The board ---


def test_board_shows_a_paid_order_in_new_with_lines_options_table_and_note(customer, store, menu, cook):
    order = paid_order(customer, store, menu, fulfilment="dine_in", table="A1", note="No coriander")
    unpaid = submit(customer, store, menu, lines=unlimited_lines(menu))
    html = client_for(cook).get(kitchen_url(store)).content.decode()
    new = lane(html, "new")
    assert f'data-ticket-id="{order.pk}"' in new
    assert f'data-ticket-id="{unpaid.pk}"' not in html
    assert '<span class="ticket-number" aria-label="Order number">001</span>' in new
    assert "Beef noodles" in new and '<span class="opts">Hot</span>' in new
    assert '<span class="qty">2×</span> <span class="dish">Dumplings</span>' in new
    assert "Dine-in (table QR)" in new and "Table <strong>A1</strong>" in new
    assert "No coriander" in new
    assert 'name="move" value="start"' in new
    assert f'data-ticket-id="{order.pk}"' not in lane(html, "preparing") + lane(html, "ready")
    # The page polls the board partial every 2 seconds.
    assert f'hx-get="{kitchen_url(store, "ordering:kitchen-board")}" hx-trigger="every 2s"' in html


def test_board_partial_is_a_fragment_with_the_tickets(customer, store, menu, cook):
    order = paid_order(customer, store, menu)
    response = client_for(cook).get(kitchen_url(store, "ordering:kitchen-board"), **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert f'data-ticket-id="{order.pk}"' in lane(html, "new")
    assert response["Cache-Control"].startswith("max-age=0")


def test_start_ready_and_recall_move_the_ticket(customer, store, menu, cook):
    order = paid_order(customer, store, menu)
    client = client_for(cook)
    ticket = f'data-ticket-id="{order.pk}"'

    response = client.post(bump_url(order), {"move": "start"}, **HTMX)
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PREPARING and order.started_at is not None
    html = response.content.decode()
    assert ticket in lane(html, "preparing")
    assert "Order 001: preparing." in html and 'hx-swap-oob="true"' in html

    response = client.post(bump_url(order), {"move": "ready"}, **HTMX)
    order.refresh_from_db()
    assert order.status == OrderStatus.READY
    assert ticket in lane(response.content.decode(), "ready")

    recall = bump_url(order, "ordering:kitchen-recall")
    response = client.post(recall, {"expected_status": "ready"}, **HTMX)
    order.refresh_from_db()
    assert response.status_code == 200
    assert order.status == OrderStatus.PREPARING and order.ready_at is None
    assert "Order 001 recalled to Preparing." in response.content.decode()

    response = client.post(recall, {"expected_status": "preparing"}, **HTMX)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID and order.started_at is None
    assert ticket in lane(response.content.decode(), "new")


def test_without_javascript_a_bump_redirects_to_the_board_with_a_message(customer, store, menu, cook):
    order = paid_order(customer, store, menu)
    client = client_for(cook)
    response = client.post(bump_url(order), {"move": "start"})
    assert response.status_code == 302 and response["Location"] == kitchen_url(store)
    order.refresh_from_db()
    assert order.status == OrderStatus.PREPARING
    assert "Order 001: preparing." in client.get(kitchen_url(store)).content.decode()


def test_stale_bump_shows_a_message_and_changes_nothing(customer, store, menu, cook, store_manager):
    order = paid_order(customer, store, menu)
    order_bump(actor=store_manager, order_id=order.pk, move="start")  # the other screen was faster
    order.refresh_from_db()
    started_at = order.started_at
    client = client_for(cook)

    response = client.post(bump_url(order), {"move": "start"}, **HTMX)
    assert response.status_code == 409
    html = response.content.decode()
    assert '<p class="flash-error">Order 001 is already Preparing.</p>' in html
    assert f'data-ticket-id="{order.pk}"' in lane(html, "preparing")  # the fresh board comes with it
    order.refresh_from_db()
    assert order.status == OrderStatus.PREPARING and order.started_at == started_at

    response = client.post(bump_url(order, "ordering:kitchen-recall"), {"expected_status": "ready"}, **HTMX)
    assert response.status_code == 409
    assert "Order 001 cannot be recalled now: it is Preparing." in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PREPARING

    response = client.post(bump_url(order), {"move": "start"})  # no JavaScript: the full page
    assert response.status_code == 409
    assert "Order 001 is already Preparing." in response.content.decode()
    assert order.history.count() == 3  # created, paid, started: nothing more


def test_unknown_move_and_unknown_order_are_refused(customer, store, menu, cook):
    order = paid_order(customer, store, menu)
    client = client_for(cook)
    response = client.post(bump_url(order), {"move": "serve"}, **HTMX)
    assert response.status_code == 400
    assert "Unknown kitchen action." in response.content.decode()
    missing = reverse("ordering:kitchen-bump", kwargs={"store_code": store.code,
                                                        "order_id": "00000000-0000-0000-0000-000000000000"})
    response = client.post(missing, {"move": "start"}, **HTMX)
    assert response.status_code == 404
    assert "No such order." in response.content.decode()
    assert client.get(bump_url(order)).status_code == 405
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_customers_and_other_stores_staff_cannot_bump(customer, store, other_store, menu, brand):
    order = paid_order(customer, store, menu)
    response = client_for(customer).post(bump_url(order), {"move": "start"}, **HTMX)
    assert response.status_code == 403
    response = client_for(customer).post(bump_url(order, "ordering:kitchen-recall"), {})
    assert response.status_code == 403
    # A cook of SH002, through their own store's URL, still cannot move an SH001 order.
    other_cook = staff(brand, [other_store], phone="13911110002")
    url = reverse("ordering:kitchen-bump", kwargs={"store_code": other_store.code, "order_id": order.pk})
    response = client_for(other_cook).post(url, {"move": "start"}, **HTMX)
    assert response.status_code == 403
    assert "You do not work at this store." in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_board_query_count_does_not_grow_with_the_tickets(
    customer, store, menu, cook, django_assert_max_num_queries
):
    client = client_for(cook)
    url = kitchen_url(store, "ordering:kitchen-board")
    orders = [paid_order(customer, store, menu, lines=unlimited_lines(menu)) for _ in range(5)]
    order_bump(actor=cook, order_id=orders[0].pk, move="start")
    client.get(url)  # warm the session and caches
    with django_assert_max_num_queries(7):
        small = client.get(url, **HTMX)
    assert small.content.decode().count("data-ticket-id=") == 5

    orders += [paid_order(customer, store, menu, lines=unlimited_lines(menu)) for _ in range(25)]
    for order in orders[1:11]:
        order_bump(actor=cook, order_id=order.pk, move="start")
    for order in orders[1:6]:
        order_bump(actor=cook, order_id=order.pk, move="ready")
    with django_assert_max_num_queries(7):
        large = client.get(url, **HTMX)
    html = large.content.decode()
    assert html.count("data-ticket-id=") == 30
    assert lane(html, "ready").count("data-ticket-id=") == 5


@pytest.mark.parametrize(("minutes", "colour"), [(5, "green"), (20, "amber"), (30, "red")])
def test_elapsed_time_is_coloured_against_the_prep_time(customer, store, menu, cook, minutes, colour):
    assert store.prep_time_minutes == 15  # green up to 15, amber up to 22.5, red beyond
    order = paid_order(customer, store, menu)
    client = client_for(cook)
    with time_machine.travel(order.paid_at + timedelta(minutes=minutes, seconds=7), tick=False):
        html = client.get(kitchen_url(store, "ordering:kitchen-board"), **HTMX).content.decode()
    assert f'class="ticket ticket--{colour}' in html
    assert f'data-paid-at="{int(order.paid_at.timestamp() * 1000)}"' in html
    assert f'<span class="ticket-elapsed" data-elapsed title="Time since payment">{minutes:02d}:07</span>' in html


def test_a_paid_order_waiting_too_long_raises_a_visible_alert(customer, store, menu, cook, brand):
    assert brand.kitchen_alert_minutes == 10
    order = paid_order(customer, store, menu)
    started = paid_order(customer, store, menu, lines=unlimited_lines(menu))
    order_bump(actor=cook, order_id=started.pk, move="start")
    client = client_for(cook)
    url = kitchen_url(store, "ordering:kitchen-board")
    with time_machine.travel(order.paid_at + timedelta(minutes=9), tick=False):
        assert "late-alert" not in client.get(url, **HTMX).content.decode()
    with time_machine.travel(order.paid_at + timedelta(minutes=11), tick=False):
        html = client.get(url, **HTMX).content.decode()
    assert f'data-late-ids="{order.pk}"' in html  # the started one is not late, whatever its age
    assert "Paid and not started for over 10 minutes:" in html
    assert '<span class="late-number">001</span>' in html
    assert "ticket--late" in lane(html, "new")


def test_kitchen_page_has_sound_unlock_and_new_order_banner(store, cook):
    html = client_for(cook).get(kitchen_url(store)).content.decode()
    assert 'id="sound-toggle"' in html and "Enable sound" in html
    assert 'id="new-order-banner"' in html and 'data-label="New order"' in html
    assert "/static/js/kitchen.js" in html and "/static/css/kitchen.css" in html


def test_orders_of_other_stores_stay_off_the_board(customer, store, other_store, menu, cook, hq_manager):
    mine = paid_order(customer, store, menu)
    theirs = paid_order(customer, other_store, menu, lines=unlimited_lines(menu))
    html = client_for(hq_manager).get(kitchen_url(store)).content.decode()
    assert f'data-ticket-id="{mine.pk}"' in html
    assert f'data-ticket-id="{theirs.pk}"' not in html
    assert Order.objects.count() == 2
