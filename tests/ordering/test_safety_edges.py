"""Edges found in review: exact stock release, pickup codes apart from yesterday's and out of the
history, no 500s on odd characters, counted and generic gift card answers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditEvent
from ordering import services as ordering_services
from ordering.models import Order
from ordering.services import LineRequest, order_cancel, orders_expire_due
from payments.errors import InsufficientBalance
from payments.services import gift_card_issue, gift_card_set_active, payment_create
from stores.models import StoreDishOverride
from tests.ordering.factories import gift_card_for, submit
from tests.stores.factories import make_staff

pytestmark = pytest.mark.django_db


def _stock(override) -> int | None:
    return StoreDishOverride.objects.get(pk=override.pk).stock


def test_an_unlimited_dish_given_a_limit_later_gets_nothing_back(customer, store, menu):
    order = submit(customer, store, menu, lines=[LineRequest(menu.tea.pk, 5)])  # tea: unlimited
    tea = StoreDishOverride.objects.get(store=store, dish=menu.tea)
    tea.stock = 20
    tea.save()
    order_cancel(actor=customer, order_id=order.pk)
    assert _stock(tea) == 20  # not 25: those 5 were never taken from a count


def test_an_order_from_before_the_nightly_restore_gives_nothing_back_to_daily_stock(customer, store, menu):
    yesterday = timezone.now() - timedelta(days=1)
    menu.dumplings_stock.daily_stock = 10
    menu.dumplings_stock.save()
    submit(customer, store, menu, lines=[LineRequest(menu.dumplings.pk, 3)], now=yesterday)
    StoreDishOverride.objects.filter(pk=menu.dumplings_stock.pk).update(stock=10)  # what the restore did
    assert orders_expire_due() == 1
    assert _stock(menu.dumplings_stock) == 10  # not 13


def test_a_new_pickup_code_is_never_yesterdays(customer, store, menu, monkeypatch):
    yesterday = timezone.now() - timedelta(days=1)
    card = gift_card_for(customer, store.brand)
    late = submit(customer, store, menu, lines=[LineRequest(menu.tea.pk, 1)], now=yesterday)
    payment_create(actor=customer, order_id=late.pk, channel="gift_card", params={"gift_card": card.pk},
                   now=yesterday + timedelta(minutes=1))
    late.refresh_from_db()
    codes = iter([late.pickup_code, "424242"])
    monkeypatch.setattr(ordering_services, "_new_pickup_code", lambda: next(codes))
    today = submit(customer, store, menu, lines=[LineRequest(menu.tea.pk, 1)])
    payment_create(actor=customer, order_id=today.pk, channel="gift_card", params={"gift_card": card.pk})
    assert Order.objects.get(pk=today.pk).pickup_code == "424242"


def test_the_pickup_code_is_not_in_the_order_history(client, customer, store, menu, store_manager):
    order = submit(customer, store, menu, lines=[LineRequest(menu.tea.pk, 1)])
    card = gift_card_for(customer, store.brand)
    payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})
    order.refresh_from_db()
    assert not hasattr(order.history.first(), "pickup_code")
    client.force_login(store_manager)
    page = client.get(f"/admin/ordering/order/{order.pk}/history/")
    assert page.status_code == 200 and order.pickup_code not in page.content.decode()


def test_a_unicode_digit_option_is_a_form_error_not_a_500(store, menu):
    response = Client().post(f"/order/{store.code}/cart/add/", {"dish": menu.noodles.pk, "quantity": 1,
                                                                 "options-1": "²"})
    assert response.status_code in (302, 400)
    assert response.status_code != 500


def test_a_nul_byte_in_a_table_code_is_not_found(store, menu):
    assert Client().get(f"/t/{store.code}/%00/").status_code == 404


def test_a_typed_card_number_does_not_reveal_the_balance(customer, store, menu, hq_manager, english):
    order = submit(customer, store, menu)  # 45.00
    stranger_card = gift_card_issue(actor=hq_manager, brand=store.brand, amount=Decimal("37.50"))
    with pytest.raises(InsufficientBalance) as exc:
        payment_create(actor=customer, order_id=order.pk, channel="gift_card",
                       params={"gift_card_code": stranger_card.code})
    assert "37.50" not in str(exc.value.message)


def test_switching_a_card_off_is_audited_and_store_staff_may_not(customer, store, hq_manager):
    card = gift_card_for(customer, store.brand, "80.00")
    manager = make_staff(role=Role.STORE_MANAGER, brand=store.brand, stores=[store], phone="13700000088")
    with pytest.raises(Exception) as exc:
        gift_card_set_active(actor=manager, card_id=card.pk, active=False)
    assert getattr(exc.value, "code", "") == "not_yours"
    gift_card_set_active(actor=hq_manager, card_id=card.pk, active=False)
    card.refresh_from_db()
    assert card.is_active is False
    event = AuditEvent.objects.get(action="gift_card.deactivated")
    assert event.actor_id == hq_manager.pk and event.amount == Decimal("80.00")
