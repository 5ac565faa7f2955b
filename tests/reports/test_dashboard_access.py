"""Who sees the dashboard, and which stores' figures: HQ the brand, store managers their stores."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from tests.accounts.factories import UserFactory
from tests.stores.factories import make_staff

from .conftest import RANGE

pytestmark = pytest.mark.django_db

URL = "/reports/"


def _text(html: str, element_id: str) -> str:
    return re.search(rf'id="{element_id}">([^<]*)<', html).group(1).strip()


def test_store_manager_sees_only_their_stores(sm_client, world):
    response = sm_client.get(URL, RANGE)
    assert response.status_code == 200
    html = response.content.decode()
    # SH001 + SH002: 7 paid orders, 146.00 paid, 18.00 refunded -> 128.00 net over 6 kept orders.
    assert _text(html, "total-orders") == "7"
    assert _text(html, "total-net-revenue") == "¥128.00"
    assert _text(html, "total-average-ticket") == "¥21.33"
    assert re.findall(r'data-store="(\w+)"', html) == ["SH001", "SH002"]
    assert "SH003" not in html and "三店" not in html
    # noodles: 2 at SH001 + 1 at SH002 (SH003's 5 are not theirs)
    assert {r.dish_code: r.quantity for r in response.context["dishes"]} == {"noodles": 3, "dumplings": 4, "tea": 4}
    # only their stores are offered in the filter
    assert set(response.context["form"].fields["stores"].queryset) == {world.sh001, world.sh002}


def test_store_manager_cannot_pick_another_store(sm_client, world):
    response = sm_client.get(URL, {**RANGE, "stores": [world.sh003.pk]})
    assert response.status_code == 400
    assert response.context["flt"] is None
    assert "stores" in response.context["form"].errors
    assert "90.00" not in response.content.decode()


def test_store_manager_csv_is_scoped_too(sm_client, world):
    body = sm_client.get("/reports/export/stores.csv", RANGE).content.decode("utf-8-sig")
    assert "SH001" in body and "SH002" in body and "SH003" not in body
    response = sm_client.get("/reports/export/stores.csv", {**RANGE, "stores": [world.sh003.pk]})
    assert response.status_code == 400
    assert "SH003" not in response.content.decode()


def test_hq_manager_of_another_brand_sees_nothing_of_this_one(world, other_brand):
    rival_hq = make_staff(role=Role.HQ_MANAGER, brand=other_brand, phone="13700000099")
    client = Client()
    client.force_login(rival_hq)
    response = client.get(URL, RANGE)
    assert response.status_code == 200
    assert response.context["flt"].brand == other_brand
    assert response.context["total"].revenue == 100
    assert client.get(URL, {**RANGE, "brand": world.brand.pk}).status_code == 400
    assert client.get(URL, {**RANGE, "stores": [world.sh001.pk]}).status_code == 400


def test_superuser_picks_the_brand(world, other_brand):
    root = UserFactory(phone="13900009999", is_staff=True, is_superuser=True, role=Role.HQ_MANAGER)
    client = Client()
    client.force_login(root)
    response = client.get(URL, {**RANGE, "brand": other_brand.pk})
    assert response.status_code == 200
    assert response.context["flt"].brand == other_brand
    assert response.context["form"].show_brand
    response = client.get(URL, {**RANGE, "brand": world.brand.pk})
    assert response.context["total"].orders == 8


@pytest.mark.parametrize("role", [Role.KITCHEN_STAFF, Role.CANTEEN_STAFF])
def test_other_staff_are_refused(world, role):
    user = make_staff(role=role, brand=world.brand, stores=[world.sh001], phone="13700000055")
    client = Client()
    client.force_login(user)
    assert client.get(URL, RANGE).status_code == 403
    assert client.get("/reports/export/daily.csv", RANGE).status_code == 403


def test_customers_are_refused_and_anonymous_users_sent_to_login(world):
    client = Client()
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=/reports/")
    assert client.get("/reports/export/daily.csv")["Location"].startswith("/admin/login/")
    client.force_login(world.customers[0])
    assert client.get(URL).status_code == 403


def test_frozen_hq_manager_is_refused(world, hq_manager):
    client = Client()
    client.force_login(hq_manager)
    hq_manager.is_frozen, hq_manager.frozen_at = True, timezone.now()
    hq_manager.save()
    assert client.get(URL).status_code == 403


def test_admin_index_links_to_the_dashboard(hq_client, world):
    index = hq_client.get("/admin/").content.decode()
    assert "/admin/reports/salesdashboard/" in index
    response = hq_client.get("/admin/reports/salesdashboard/")
    assert (response.status_code, response["Location"]) == (302, "/reports/")
    assert hq_client.get("/admin/reports/salesdashboard/add/").status_code == 404


def test_admin_index_hides_the_dashboard_from_kitchen_staff(world):
    cook = make_staff(role=Role.KITCHEN_STAFF, brand=world.brand, stores=[world.sh001], phone="13700000056")
    client = Client()
    client.force_login(cook)
    assert "/admin/reports/salesdashboard/" not in client.get("/admin/").content.decode()
    assert client.get("/admin/reports/salesdashboard/").status_code == 403


def test_store_manager_sees_the_admin_entry(sm_client):
    assert "/admin/reports/salesdashboard/" in sm_client.get("/admin/").content.decode()
