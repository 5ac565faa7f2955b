"""The order admin: scoped, read-only, efficient changelist, history, and the stuck orders page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from audit.models import AuditEvent
from ordering.models import CancelReason, Order, OrderStatus
from ordering.services import LineRequest
from payments.services import payment_create
from tests.ordering.factories import Menu, gift_card_for, paid_order, submit
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:ordering_order_changelist"
STUCK = "admin:ordering_order_stuck"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}  # pages follow the browser's language (Chinese by default)


def _change(order):
    return reverse("admin:ordering_order_change", args=[order.pk])


@pytest.fixture
def world(brand, other_brand, store, menu, customer):
    store_b = StoreFactory(brand=brand, code="SH002", name="B 店")
    rival_store = StoreFactory(brand=other_brand, code="RV001", name="对手店")
    rival_menu = Menu(rival_store)
    return {
        "a": paid_order(customer, store, menu),
        "a_unpaid": submit(customer, store, menu, lines=[LineRequest(dish_id=menu.tea.pk, quantity=1)]),
        "b": paid_order(customer, store_b, menu),
        "rival": paid_order(customer, rival_store, rival_menu),
        "store_b": store_b,
        "rival_store": rival_store,
    }


def _shown(response):
    return {order.pk for order in response.context["cl"].result_list}


def test_store_manager_sees_only_own_store_orders(client, store_manager, world):
    client.force_login(store_manager)

    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert _shown(response) == {world["a"].pk, world["a_unpaid"].pk}
    body = response.content.decode()
    assert "SH002" not in body and "RV001" not in body
    assert "138****0001" in body  # the customer's phone, masked
    assert "13800000001" not in body


def test_store_manager_cannot_open_other_store_or_brand_order(client, store_manager, world):
    client.force_login(store_manager)
    for order in (world["b"], world["rival"]):
        assert client.get(_change(order)).status_code in (302, 403, 404)
        history = reverse("admin:ordering_order_history", args=[order.pk])
        assert client.get(history).status_code in (302, 403, 404)


def test_kitchen_staff_sees_own_store_orders(client, brand, store, world):
    cook = make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[store])
    client.force_login(cook)
    assert _shown(client.get(reverse(CHANGELIST))) == {world["a"].pk, world["a_unpaid"].pk}
    assert client.get(_change(world["b"])).status_code in (302, 403, 404)


def test_hq_sees_brand_orders_not_other_brand(client, hq_manager, world):
    client.force_login(hq_manager)
    shown = _shown(client.get(reverse(CHANGELIST)))
    assert shown == {world["a"].pk, world["a_unpaid"].pk, world["b"].pk}
    assert client.get(_change(world["rival"])).status_code in (302, 403, 404)


def test_customer_is_refused(client, customer, world):
    client.force_login(customer)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_orders_are_read_only(client, hq_manager, world):
    client.force_login(hq_manager)
    order = world["a"]
    page = client.get(_change(order))
    assert page.status_code == 200
    assert page.context["has_add_permission"] is False
    assert page.context["has_change_permission"] is False
    assert page.context["has_delete_permission"] is False
    assert list(page.context["adminform"].form.fields) == []  # nothing editable, status least of all

    post = client.post(_change(order), {"status": "completed", "note": "changed"})
    assert post.status_code == 403
    order.refresh_from_db()
    assert (order.status, order.note) == (OrderStatus.PAID, "")

    assert client.get(reverse("admin:ordering_order_add")).status_code == 403
    assert client.post(reverse("admin:ordering_order_delete", args=[order.pk]), {"post": "yes"}).status_code == 403
    assert Order.objects.filter(pk=order.pk).exists()
    changelist = client.get(reverse(CHANGELIST))
    assert changelist.context["action_form"] is None  # no actions, "delete selected" least of all


def test_order_page_shows_lines_payments_and_money(client, hq_manager, world):
    client.force_login(hq_manager)
    response = client.get(_change(world["a"]), **EN)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Beef noodles" in body and "Hot" in body and "650" in body  # line with option and nutrition
    assert "45.00" in body  # total and paid
    assert '<table class="order-money">' in body
    assert "left to pay" in body
    assert 'id="payments-group"' in body  # the payments inline, added by the payments app
    assert "Gift card" in body


def test_order_history_page_renders_without_revert(client, hq_manager, world):
    client.force_login(hq_manager)
    order = world["a"]
    history = client.get(reverse("admin:ordering_order_history", args=[order.pk]))
    assert history.status_code == 200
    assert history.context["revert_disabled"] is True
    version = order.history.earliest()
    url = reverse("admin:ordering_order_simple_history", args=[order.pk, version.history_id])
    page = client.get(url)
    assert page.status_code == 200
    assert list(page.context["adminform"].form.fields) == []
    assert client.post(url, {}).status_code == 403
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_changelist_filters_and_search(client, hq_manager, world, store):
    client.force_login(hq_manager)
    by_store = client.get(reverse(CHANGELIST), {"store__id__exact": world["store_b"].pk})
    assert _shown(by_store) == {world["b"].pk}
    unpaid = client.get(reverse(CHANGELIST), {"status__exact": OrderStatus.PENDING_PAYMENT})
    assert _shown(unpaid) == {world["a_unpaid"].pk}
    by_code = client.get(reverse(CHANGELIST), {"q": world["a"].pickup_code})
    assert world["a"].pk in _shown(by_code)
    by_phone = client.get(reverse(CHANGELIST), {"q": "13800000001"})
    assert _shown(by_phone) == {world["a"].pk, world["a_unpaid"].pk, world["b"].pk}
    by_number = client.get(reverse(CHANGELIST), {"q": "#002", "store__id__exact": store.pk})
    assert _shown(by_number) == {world["a_unpaid"].pk}
    nonsense = client.get(reverse(CHANGELIST), {"q": "%%not-a-number"})
    assert nonsense.status_code == 200 and _shown(nonsense) == set()
    # the store filter lists only the stores in scope
    store_choices = str(client.get(reverse(CHANGELIST)).context["cl"].filter_specs[0].lookup_choices)
    assert "RV001" not in store_choices


def test_paid_amount_column_is_annotated(client, hq_manager, world):
    client.force_login(hq_manager)
    response = client.get(reverse(CHANGELIST))
    paid = {order.pk: order._paid for order in response.context["cl"].result_list}
    assert paid[world["a"].pk] == Decimal("45.00")
    assert paid[world["a_unpaid"].pk] == Decimal("0.00")


def _orders(customer, store, menu, count):
    for i in range(count):
        order = submit(customer, store, menu, lines=[LineRequest(dish_id=menu.tea.pk, quantity=1)])
        if i % 2:
            card = gift_card_for(customer, store.brand, "10.00")
            payment_create(actor=customer, order_id=order.pk, channel="gift_card", params={"gift_card": card.pk})


def test_changelist_queries_do_not_grow_with_orders(client, hq_manager, store, menu, customer,
                                                   django_assert_max_num_queries):
    _orders(customer, store, menu, 5)
    client.force_login(hq_manager)
    with CaptureQueriesContext(connection) as five:
        assert client.get(reverse(CHANGELIST)).status_code == 200
    _orders(customer, store, menu, 45)
    with django_assert_max_num_queries(len(five.captured_queries)):
        response = client.get(reverse(CHANGELIST))
    assert len(response.context["cl"].result_list) == 50


# --- stuck orders ---


def test_stuck_orders_lists_late_kitchen_and_unexpired(client, store_manager, world):
    now = timezone.now()
    Order.objects.filter(pk=world["a"].pk).update(paid_at=now - timedelta(minutes=25))  # alert after 10
    Order.objects.filter(pk=world["b"].pk).update(paid_at=now - timedelta(minutes=25))  # another store
    Order.objects.filter(pk=world["a_unpaid"].pk).update(expires_at=now - timedelta(minutes=7))
    client.force_login(store_manager)

    response = client.get(reverse(STUCK), **EN)

    assert response.status_code == 200
    assert [row["order"].pk for row in response.context["unstarted"]] == [world["a"].pk]
    assert response.context["unstarted"][0]["minutes_late"] in (14, 15)
    assert [row["order"].pk for row in response.context["unexpired"]] == [world["a_unpaid"].pk]
    assert response.context["unexpired"][0]["minutes_late"] in (6, 7)
    body = response.content.decode()
    assert _change(world["a"]) in body and _change(world["a_unpaid"]) in body
    assert "SH002" not in body
    assert "Expire now" in body


def test_stuck_orders_are_linked_from_changelist_and_index(client, hq_manager, world):
    client.force_login(hq_manager)
    assert reverse(STUCK) in client.get(reverse(CHANGELIST)).content.decode()
    index = client.get(reverse("admin:index"), **EN).content.decode()
    assert reverse(STUCK) in index and "Stuck orders" in index


def test_expire_now_expires_only_due_orders_in_scope(client, store_manager, world, store, menu, customer):
    now = timezone.now()
    other_unpaid = submit(customer, world["store_b"], menu, lines=[LineRequest(dish_id=menu.tea.pk, quantity=1)])
    Order.objects.filter(pk__in=[world["a_unpaid"].pk, other_unpaid.pk]).update(expires_at=now - timedelta(minutes=1))
    client.force_login(store_manager)

    response = client.post(reverse(STUCK), {"order": [str(world["a_unpaid"].pk), str(other_unpaid.pk), "junk"]})

    assert response.status_code == 302
    world["a_unpaid"].refresh_from_db()
    other_unpaid.refresh_from_db()
    assert (world["a_unpaid"].status, world["a_unpaid"].cancel_reason) == (OrderStatus.CANCELLED,
                                                                          CancelReason.EXPIRED)
    assert other_unpaid.status == OrderStatus.PENDING_PAYMENT  # not this manager's store
    assert list(AuditEvent.objects.filter(action="order.expired").values_list("object_id", flat=True)) == [
        str(world["a_unpaid"].pk)
    ]
    # Expired by hand: the manager is the actor in the audit log and the history, not "system".
    assert AuditEvent.objects.get(action="order.expired").actor_id == store_manager.pk
    assert world["a_unpaid"].history.first().history_user == store_manager


def test_kitchen_staff_may_look_at_stuck_orders_but_not_expire(client, brand, store, world):
    cook = make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[store])
    Order.objects.filter(pk=world["a_unpaid"].pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(cook)
    page = client.get(reverse(STUCK))
    assert page.status_code == 200 and page.context["may_expire"] is False
    assert client.post(reverse(STUCK), {"order": [str(world["a_unpaid"].pk)]}).status_code == 403
    world["a_unpaid"].refresh_from_db()
    assert world["a_unpaid"].status == OrderStatus.PENDING_PAYMENT


def test_other_brand_hq_sees_no_stuck_orders_of_ours(client, other_brand, world):
    rival_hq = make_staff(role=Role.HQ_MANAGER, brand=other_brand)
    Order.objects.filter(pk=world["a_unpaid"].pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    client.force_login(rival_hq)
    response = client.get(reverse(STUCK))
    assert response.status_code == 200
    assert response.context["unexpired"] == []


def test_frozen_staff_sees_no_orders(client, store_manager, world):
    store_manager.is_frozen, store_manager.frozen_at = True, timezone.now()
    store_manager.save(update_fields=["is_frozen", "frozen_at"])
    client.force_login(store_manager)
    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(reverse(STUCK)).status_code == 403
    assert client.get(_change(world["a"])).status_code in (302, 403, 404)
