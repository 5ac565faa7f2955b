"""Dining tables in the admin (through ``stores.services.table_save``), their printable QR codes,
and the ordering settings of brands and stores."""

import re
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from accounts.models import Role
from audit.models import AuditEvent
from stores.models import DiningTable
from tests.accounts.factories import UserFactory
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db

TABLES = "admin:stores_diningtable_changelist"
ADD = "admin:stores_diningtable_add"


@pytest.fixture
def tables(brand, other_brand, store):
    store_b = StoreFactory(brand=brand, code="SH002", name="B 店")
    rival_store = StoreFactory(brand=other_brand, code="RV001", name="对手店")
    return {
        "a1": DiningTable.objects.create(brand=brand, store=store, code="A1"),
        "a2": DiningTable.objects.create(brand=brand, store=store, code="A2", seats=2),
        "off": DiningTable.objects.create(brand=brand, store=store, code="OLD", is_active=False),
        "b1": DiningTable.objects.create(brand=brand, store=store_b, code="B1"),
        "rival": DiningTable.objects.create(brand=other_brand, store=rival_store, code="R1"),
        "store_b": store_b,
    }


def _table_url(table):
    return reverse("admin:stores_diningtable_change", args=[table.pk])


def test_store_manager_sees_and_adds_tables_of_own_store_only(client, store_manager, store, tables):
    client.force_login(store_manager)
    listed = client.get(reverse(TABLES))
    assert {t.pk for t in listed.context["cl"].result_list} == {tables["a1"].pk, tables["a2"].pk, tables["off"].pk}
    assert client.get(_table_url(tables["b1"])).status_code in (302, 403, 404)
    assert client.get(_table_url(tables["rival"])).status_code in (302, 403, 404)

    refused = client.post(reverse(ADD), {"store": tables["store_b"].pk, "code": "X9", "seats": "4",
                                         "is_active": "on"})
    assert refused.status_code == 200 and "store" in refused.context["adminform"].form.errors

    response = client.post(reverse(ADD), {"store": store.pk, "code": "A3", "seats": "6", "is_active": "on"})

    assert response.status_code == 302
    table = DiningTable.objects.get(store=store, code="A3")
    assert (table.brand_id, table.seats) == (store.brand_id, 6)
    event = AuditEvent.objects.get(action="table.created")
    assert (event.actor_id, event.data["store"], event.data["table"]) == (store_manager.pk, "SH001", "A3")


def test_duplicate_table_code_is_a_form_error(client, store_manager, store, tables):
    client.force_login(store_manager)
    response = client.post(reverse(ADD), {"store": store.pk, "code": "A1", "seats": "4", "is_active": "on"})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["code"]
    change = client.post(_table_url(tables["a2"]), {"code": "A1", "seats": "2", "is_active": "on"})
    assert change.status_code == 200 and change.context["adminform"].form.errors["code"]
    assert DiningTable.objects.filter(store=store, code="A1").count() == 1
    assert not AuditEvent.objects.exists()


def test_change_and_delete_table_through_service(client, hq_manager, tables):
    client.force_login(hq_manager)
    table = tables["a2"]
    response = client.post(_table_url(table), {"code": "A2", "seats": "8", "is_active": "on"})
    assert response.status_code == 302
    table.refresh_from_db()
    assert table.seats == 8
    updated = AuditEvent.objects.get(action="table.updated")
    assert updated.data["fields"] == ["seats"] and updated.data["was"] == {"seats": 2}

    delete = client.post(reverse("admin:stores_diningtable_delete", args=[table.pk]), {"post": "yes"})
    assert delete.status_code == 302
    assert not DiningTable.objects.filter(pk=table.pk).exists()
    deleted = AuditEvent.objects.get(action="table.deleted")
    assert (deleted.actor_id, deleted.data["table"]) == (hq_manager.pk, "A2")


def test_kitchen_staff_may_look_but_not_change_tables(client, brand, store, tables):
    cook = make_staff(role=Role.KITCHEN_STAFF, brand=brand, stores=[store])
    client.force_login(cook)
    assert client.get(reverse(TABLES)).status_code == 200
    assert client.post(_table_url(tables["a1"]), {"code": "ZZ", "seats": "1"}).status_code == 403
    assert client.post(reverse(ADD), {"store": store.pk, "code": "K1", "seats": "4"}).status_code == 403
    tables["a1"].refresh_from_db()
    assert tables["a1"].code == "A1"
    assert not DiningTable.objects.filter(code="K1").exists()


def _cards(body):
    return re.findall(r'<section class="card" data-table="([^"]+)">(.*?)</section>', body, re.S)


def test_store_qr_page_prints_one_svg_per_table_in_use(client, store_manager, store, tables):
    client.force_login(store_manager)
    store_page = client.get(reverse("admin:stores_store_change", args=[store.pk]))
    url = reverse("admin:stores_store_table_qr", args=[store.pk])
    assert url in store_page.content.decode()

    response = client.get(url)

    assert response.status_code == 200
    body = response.content.decode()
    cards = _cards(body)
    assert [code for code, _card in cards] == ["A1", "A2"]  # not the table out of use, not another store's
    for code, card in cards:
        assert card.count("<svg") == 1
        assert f"http://testserver/t/SH001/{code}/" in card
        assert store.name in card
    assert "size: A4" in body


def test_qr_page_of_another_store_is_refused(client, store_manager, tables):
    client.force_login(store_manager)
    url = reverse("admin:stores_store_table_qr", args=[tables["store_b"].pk])
    assert client.get(url).status_code in (302, 403, 404)


def test_qr_code_encodes_the_table_url(client, store_manager, store, tables):
    import segno

    client.force_login(store_manager)
    body = client.get(reverse("admin:stores_store_table_qr", args=[store.pk])).content.decode()
    expected = segno.make("http://testserver/t/SH001/A1/").svg_inline(scale=5)
    assert expected in body


def test_print_actions_for_selected_stores_and_tables(client, hq_manager, store, tables):
    client.force_login(hq_manager)
    by_store = client.post(reverse("admin:stores_store_changelist"), {
        "action": "print_table_qr", ACTION_CHECKBOX_NAME: [store.pk, tables["store_b"].pk], "index": "0",
    })
    assert by_store.status_code == 200
    assert [code for code, _card in _cards(by_store.content.decode())] == ["A1", "A2", "B1"]

    by_table = client.post(reverse(TABLES), {
        "action": "print_qr", ACTION_CHECKBOX_NAME: [tables["b1"].pk, tables["rival"].pk], "index": "0",
    })
    assert by_table.status_code == 200
    cards = _cards(by_table.content.decode())
    assert [code for code, _card in cards] == ["B1"]  # the other brand's table is not in scope
    assert "/t/SH002/B1/" in cards[0][1]


def test_brand_and_store_ordering_settings_are_in_the_admin(client, hq_manager, store, brand):
    client.force_login(hq_manager)
    brand_form = client.get(reverse("admin:stores_brand_change", args=[brand.pk])).context["adminform"].form
    assert {"order_expiry_minutes", "kitchen_alert_minutes"} <= set(brand_form.fields)
    store_form = client.get(reverse("admin:stores_store_change", args=[store.pk])).context["adminform"].form
    assert "delivery_fee" in store_form.fields

    data = {name: value for name, value in brand_form.initial.items() if value not in (None, False)}
    data.update({"kitchen_alert_minutes": "0"})
    refused = client.post(reverse("admin:stores_brand_change", args=[brand.pk]), data)
    assert refused.status_code == 200 and "kitchen_alert_minutes" in refused.context["adminform"].form.errors
    data.update({"kitchen_alert_minutes": "5", "order_expiry_minutes": "20"})
    assert client.post(reverse("admin:stores_brand_change", args=[brand.pk]), data).status_code == 302
    brand.refresh_from_db()
    assert (brand.kitchen_alert_minutes, brand.order_expiry_minutes) == (5, 20)


def test_store_delivery_fee_is_edited_in_the_store_admin(client, hq_manager, store):
    client.force_login(hq_manager)
    url = reverse("admin:stores_store_change", args=[store.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and value is not False}
    data.update({"opening_hours-TOTAL_FORMS": "0", "opening_hours-INITIAL_FORMS": "0",
                 "overrides-TOTAL_FORMS": "0", "overrides-INITIAL_FORMS": "0"})

    refused = client.post(url, {**data, "delivery_fee": "-1"})
    assert refused.status_code == 200 and "delivery_fee" in refused.context["adminform"].form.errors

    assert client.post(url, {**data, "delivery_fee": "6.50"}).status_code == 302
    store.refresh_from_db()
    assert store.delivery_fee == Decimal("6.50")
    event = AuditEvent.objects.get(action="store.updated")
    assert event.data["fields"] == ["delivery_fee"]

    assert client.post(url, {**data, "delivery_fee": ""}).status_code == 302  # empty: free delivery
    store.refresh_from_db()
    assert store.delivery_fee == Decimal("0.00")


@pytest.mark.parametrize("url_name", [
    "admin:ordering_order_changelist", "admin:ordering_order_stuck", "admin:payments_payment_changelist",
    "admin:payments_giftcard_changelist", "admin:payments_giftcard_issue", "admin:stores_diningtable_changelist",
    "admin:stores_brand_changelist", "admin:index",
])
def test_superuser_pages_render(client, tables, url_name):
    root = UserFactory(phone="13600000009", is_staff=True, is_superuser=True)
    client.force_login(root)
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    if "cl" in response.context:
        assert response.context["cl"].result_count >= 0


def test_table_page_and_its_history_render(client, hq_manager, tables):
    client.force_login(hq_manager)
    assert client.get(_table_url(tables["a1"])).status_code == 200
    assert client.get(reverse("admin:stores_diningtable_history", args=[tables["a1"].pk])).status_code == 200
