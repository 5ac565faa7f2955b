"""The forecast page's table as CSV (reports:forecast-csv): header, rows, and who may download it."""

import csv
import io
from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import Role
from reports import replenishment
from stores.models import StoreDishOverride
from stores.selectors import local_now
from tests.stores.factories import StoreFactory, make_staff

from .test_replenishment import fixed_forecasts

pytestmark = pytest.mark.django_db

URL = "/reports/forecast/export.csv"


@pytest.fixture
def forecasts(monkeypatch, menu):
    data = fixed_forecasts(menu)  # noodles 10, 14, 9 (WAPE 30%, baseline 40%); dumplings 0.3, 0.2, 0
    monkeypatch.setattr(replenishment, "store_forecasts", lambda store, **kw: data)
    return data


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _rows(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_forecast_csv_has_the_pages_table(store, menu, store_manager, forecasts):
    menu.dumplings_stock.daily_stock = 4
    menu.dumplings_stock.save()
    response = client_for(store_manager).get(URL, {"store": "SH001", "horizon": 3, "day": 2},
                                             HTTP_ACCEPT_LANGUAGE="en")
    today = local_now().date()
    days = [today + timedelta(days=i) for i in (1, 2, 3)]
    assert response["Content-Disposition"] == (
        f'attachment; filename="forecast-acme-SH001-{days[0]:%Y%m%d}-{days[-1]:%Y%m%d}.csv"')
    rows = _rows(response)
    assert rows[0] == [
        "Dish code", "Dish", "Model", "WAPE (%)", "Baseline WAPE (%)", "Sold last 7 days",
        *[f"Forecast {d.isoformat()}" for d in days],
        "Stock now (empty: unlimited)", "Daily stock", f"Suggested daily stock for {days[1].isoformat()}", "Change",
    ]
    # most sold first, then by code; day 2 of noodles forecasts 14: 14 x 1.3 = 18.2 -> 19, no daily stock yet
    assert rows[1:] == [
        ["noodles", "Beef noodles", "Holt-Winters", "30.0", "40.0", "70", "10", "14", "9", "", "", "19", ""],
        ["dumplings", "Dumplings", "Weekday profile", "", "", "2", "0", "0", "0", "10", "4", "", ""],
        ["soup", menu.soup.name_en or menu.soup.name_zh, "No recent sales", "", "", "0", "0", "0", "0", "", "", "",
         ""],
        ["tea", menu.tea.name_en or menu.tea.name_zh, "No recent sales", "", "", "0", "0", "0", "0", "", "", "", ""],
    ]


def test_forecast_csv_change_against_the_daily_stock(store, menu, hq_manager, forecasts):
    StoreDishOverride.objects.create(brand=store.brand, store=store, dish=menu.noodles, stock=5, daily_stock=8)
    rows = _rows(client_for(hq_manager).get(URL, {"store": "SH001", "horizon": 3}, HTTP_ACCEPT_LANGUAGE="en"))
    noodles = rows[1]
    assert noodles[0] == "noodles" and noodles[-4:] == ["5", "8", "13", "5"]  # 10 x 1.3 = 13, 5 more than 8


def test_forecast_csv_access(store, menu, store_manager, hq_manager, forecasts):
    other = StoreFactory(brand=store.brand, code="SH009")
    # a store manager gets their store, never another one (a form error, as on the page)
    refused = client_for(store_manager).get(URL, {"store": other.code})
    assert refused.status_code == 400 and refused["Content-Type"].startswith("text/plain")
    assert refused.content.decode().startswith("store:") and b"noodles" not in refused.content
    assert _rows(client_for(store_manager).get(URL))[1][0] == "noodles"  # default: their first store
    # HQ: any store of the brand
    response = client_for(hq_manager).get(URL, {"store": other.code, "horizon": 3})
    assert response.status_code == 200 and "SH009" in response["Content-Disposition"]
    kitchen = make_staff(role=Role.KITCHEN_STAFF, brand=store.brand, stores=[store], phone="13700000009")
    assert client_for(kitchen).get(URL).status_code == 403
    assert Client().get(URL).status_code == 302  # to the admin login
    assert client_for(store_manager).get(URL, {"horizon": "9"}).status_code == 400


def test_forecast_page_links_to_its_csv(store, menu, store_manager, forecasts):
    html = client_for(store_manager).get("/reports/forecast/", {"store": "SH001", "horizon": 3, "day": 2}).content
    assert b'href="/reports/forecast/export.csv?store=SH001&amp;horizon=3&amp;day=2"' in html
