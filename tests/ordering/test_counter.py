"""The counter: redeeming pickup codes (核销) and recording counter payments for kiosk orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from ordering.models import OrderStatus
from ordering.services import order_bump
from payments.models import Payment
from tests.ordering.factories import paid_order, submit
from tests.ordering.test_kitchen_support import HTMX, client_for, lane, staff, unlimited_lines
from tests.stores.factories import StoreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cook(brand, store):
    return staff(brand, [store], phone="13933330001")


def url(store, name="ordering:counter", **kwargs):
    return reverse(name, kwargs={"store_code": store.code, **kwargs})


def ready_order(customer, store, menu, cook, **kwargs):
    order = paid_order(customer, store, menu, **kwargs)
    order_bump(actor=cook, order_id=order.pk, move="start")
    order_bump(actor=cook, order_id=order.pk, move="ready")
    order.refresh_from_db()
    return order


def redeem(client, store, code, **extra):
    return client.post(url(store, "ordering:counter-redeem"), {"pickup_code": code}, **extra)


def kiosk_order(store, menu):
    return submit(None, store, menu, source="kiosk", lines=unlimited_lines(menu))


# --- Redeeming pickup codes ---


def test_counter_page_has_the_code_form(store, cook):
    response = client_for(cook).get(url(store))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="pickup_code"' in html and 'inputmode="numeric"' in html
    assert "No kiosk orders waiting for payment." in html


def test_redeem_completes_a_ready_order_and_shows_its_items(customer, store, menu, cook):
    order = ready_order(customer, store, menu, cook)
    response = redeem(client_for(cook), store, order.pickup_code, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<h2>Order 001 collected</h2>" in html
    assert '<span class="qty">1×</span> Beef noodles <span class="opts">Hot</span>' in html
    assert '<span class="qty">2×</span> Dumplings' in html
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED and order.completed_at is not None


def test_redeem_without_javascript_renders_the_page_with_the_result(customer, store, menu, cook):
    order = ready_order(customer, store, menu, cook)
    code = f"{order.pickup_code[:3]} {order.pickup_code[3:]}"  # typed with a space
    response = redeem(client_for(cook), store, code)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and "Order 001 collected" in html
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED


@pytest.mark.parametrize(
    ("code", "status", "error_code", "message"),
    [
        ("12ab56", 400, "malformed", "A pickup code is 6 digits."),
        ("12345", 400, "malformed", "A pickup code is 6 digits."),
        ("", 400, "malformed", "A pickup code is 6 digits."),
        ("x" * 500, 400, "malformed", "A pickup code is 6 digits."),
    ],
)
def test_redeem_malformed_codes(store, cook, code, status, error_code, message):
    response = redeem(client_for(cook), store, code, **HTMX)
    html = response.content.decode()
    assert response.status_code == status
    assert f'data-error-code="{error_code}"' in html and message in html


def test_redeem_wrong_code(customer, store, menu, cook):
    order = ready_order(customer, store, menu, cook)
    wrong = "000000" if order.pickup_code != "000000" else "000001"
    response = redeem(client_for(cook), store, wrong, **HTMX)
    assert response.status_code == 400
    assert "No order has this pickup code." in response.content.decode()
    assert 'data-error-code="wrong_code"' in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.READY


def test_redeem_used_code(customer, store, menu, cook):
    order = ready_order(customer, store, menu, cook)
    client = client_for(cook)
    assert redeem(client, store, order.pickup_code, **HTMX).status_code == 200
    response = redeem(client, store, order.pickup_code, **HTMX)
    html = response.content.decode()
    assert response.status_code == 400
    assert 'data-error-code="used_code"' in html and "Order 001 was already collected at" in html


def test_redeem_expired_code(customer, store, menu, cook):
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        order = ready_order(customer, store, menu, cook)
    response = redeem(client_for(cook), store, order.pickup_code, **HTMX)
    assert response.status_code == 400
    assert 'data-error-code="expired_code"' in response.content.decode()
    assert "This pickup code has expired." in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.READY


def test_redeem_code_of_another_store(customer, brand, store, menu, cook, hq_manager):
    other = StoreFactory(brand=brand, code="SH002", name="二店")
    order = ready_order(customer, other, menu, hq_manager, lines=unlimited_lines(menu))
    response = redeem(client_for(cook), store, order.pickup_code, **HTMX)
    html = response.content.decode()
    assert response.status_code == 400
    assert 'data-error-code="other_store"' in html and "This code is for another store: 二店." in html
    order.refresh_from_db()
    assert order.status == OrderStatus.READY


def test_redeem_order_not_ready_yet(customer, store, menu, cook):
    order = paid_order(customer, store, menu)
    response = redeem(client_for(cook), store, order.pickup_code, **HTMX)
    html = response.content.decode()
    assert response.status_code == 409
    assert 'data-error-code="not_ready"' in html and "Order 001 is not ready yet (Paid)." in html
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_redeem_refunded_order(customer, store, menu, cook):
    order = ready_order(customer, store, menu, cook)
    # No refunds service exists yet to reach this state; the model's transition stands in for it.
    order.refund_full()
    order.save()
    response = redeem(client_for(cook), store, order.pickup_code, **HTMX)
    html = response.content.decode()
    assert response.status_code == 400
    assert 'data-error-code="refunded"' in html and "Order 001 was refunded or cancelled." in html
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED


# --- Kiosk orders paid at the counter ---


def test_counter_lists_todays_unpaid_kiosk_orders(customer, store, menu, cook):
    kiosk = kiosk_order(store, menu)
    web = submit(customer, store, menu, lines=unlimited_lines(menu))
    with time_machine.travel(timezone.now() - timedelta(hours=1)):
        stale = kiosk_order(store, menu)  # past its 15 minutes: left for the expiry task
    html = client_for(cook).get(url(store)).content.decode()
    assert f'id="kiosk-{kiosk.pk}"' in html
    assert f'id="kiosk-{web.pk}"' not in html and f'id="kiosk-{stale.pk}"' not in html
    assert kiosk.total == Decimal("23.00")
    assert '<span class="kiosk-total">¥23.00</span>' in html
    assert "Paid at counter" in html
    assert url(store, "ordering:counter-pay", order_id=kiosk.pk) in html


def test_paid_at_counter_moves_a_kiosk_order_to_paid_and_into_the_kitchen(store, menu, cook):
    order = kiosk_order(store, menu)
    client = client_for(cook)
    response = client.post(url(store, "ordering:counter-pay", order_id=order.pk), {"reference": "POS-7781"}, **HTMX)
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert len(order.pickup_code) == 6 and order.pickup_code.isdigit()
    html = response.content.decode()
    assert f"Order {order.display_number} is paid (pickup code {order.pickup_code}) and sent to the kitchen." in html
    assert f'id="kiosk-{order.pk}"' not in html  # gone from the list to pay
    payment = Payment.objects.get(order=order)
    assert payment.channel == "counter" and payment.amount == order.total == Decimal("23.00")
    assert payment.provider_trade_no == "POS-7781" and payment.created_by == cook
    board = client.get(url(store, "ordering:kitchen-board"), **HTMX).content.decode()
    assert f'data-ticket-id="{order.pk}"' in lane(board, "new")
    assert "Kiosk" in lane(board, "new")


def test_paid_at_counter_without_javascript_redirects_with_a_message(store, menu, cook):
    order = kiosk_order(store, menu)
    client = client_for(cook)
    response = client.post(url(store, "ordering:counter-pay", order_id=order.pk), {})
    assert response.status_code == 302 and response["Location"] == url(store)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert f"pickup code {order.pickup_code}" in client.get(url(store)).content.decode()


def test_counter_payment_refusals_are_shown_and_change_nothing(store, menu, cook):
    order = kiosk_order(store, menu)
    client = client_for(cook)
    pay = url(store, "ordering:counter-pay", order_id=order.pk)

    response = client.post(pay, {"reference": "R" * 65}, **HTMX)
    assert response.status_code == 400
    assert "Ensure this value has at most 64 characters (it has 65)." in response.content.decode()
    assert not Payment.objects.filter(order=order).exists()

    assert client.post(pay, {}, **HTMX).status_code == 200
    response = client.post(pay, {}, **HTMX)  # a second tap
    assert response.status_code == 409
    assert '<p class="flash-error">This order is already paid; nothing was charged.</p>' in response.content.decode()
    assert Payment.objects.filter(order=order).count() == 1

    late = kiosk_order(store, menu)
    with time_machine.travel(late.expires_at + timedelta(minutes=1)):
        response = client.post(url(store, "ordering:counter-pay", order_id=late.pk), {}, **HTMX)
    assert response.status_code == 409
    assert "expired" in response.content.decode()
    late.refresh_from_db()
    assert late.status == OrderStatus.PENDING_PAYMENT and not Payment.objects.filter(order=late).exists()


def test_customers_cannot_use_the_counter(customer, store, menu, cook):
    order = kiosk_order(store, menu)
    ready = ready_order(customer, store, menu, cook)
    client = client_for(customer)
    assert client.get(url(store)).status_code == 403
    assert redeem(client, store, ready.pickup_code, **HTMX).status_code == 403
    assert client.post(url(store, "ordering:counter-pay", order_id=order.pk), {}).status_code == 403
    assert client_for().post(url(store, "ordering:counter-pay", order_id=order.pk), {}).status_code == 302
    order.refresh_from_db()
    ready.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT and ready.status == OrderStatus.READY
    assert not Payment.objects.filter(order=order).exists()


def test_staff_of_another_store_cannot_take_its_payments(brand, store, menu):
    other = StoreFactory(brand=brand, code="SH002")
    other_cook = staff(brand, [other], phone="13933330002")
    order = kiosk_order(store, menu)
    response = client_for(other_cook).post(
        url(other, "ordering:counter-pay", order_id=order.pk), {}, **HTMX
    )
    assert response.status_code == 403
    assert "Only staff of this store can record a counter payment." in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT
