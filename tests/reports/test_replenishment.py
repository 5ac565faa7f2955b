"""reports.replenishment and the forecast page: suggested stock from the forecast, applied through
the stores services (permission, audit), with a confirmation step."""

from datetime import date, timedelta

import pytest
from django.test import Client

from accounts.models import Role
from audit.models import AuditEvent
from reports import replenishment
from reports.forecast import DishForecast, Model
from reports.replenishment import replenishment_apply, safety_margin, store_suggestions, suggested_stock
from stores.models import StoreDishOverride
from stores.services import InvalidOverrideValue, StoreAccessDenied
from tests.stores.factories import StoreFactory, make_staff

pytestmark = pytest.mark.django_db

TOMORROW = date(2026, 3, 10)


def fixed_forecasts(menu, noodles=(10.0, 14.0, 9.0), wape=0.3):
    days = [TOMORROW + timedelta(days=i) for i in range(3)]
    return {
        "noodles": DishForecast("noodles", days, list(noodles), Model.HOLT_WINTERS, wape, 0.4, 35, 70, 140.0),
        "dumplings": DishForecast("dumplings", days, [0.3, 0.2, 0.0], Model.WEEKDAY_PROFILE, None, None, 35, 2),
    }


@pytest.fixture
def forecasts(monkeypatch, menu):
    data = fixed_forecasts(menu)
    monkeypatch.setattr(replenishment, "store_forecasts", lambda store, **kw: data)
    return data


def test_safety_margin_is_the_measured_error_within_bounds():
    assert [safety_margin(w) for w in (None, 0.05, 0.3, 0.9)] == [0.2, 0.1, 0.3, 0.5]
    assert suggested_stock(10.0, None) == 12  # 10 x 1.2, not 13 from floating-point noise
    assert suggested_stock(10.0, 0.05) == 11
    assert suggested_stock(10.0, 0.3) == 13
    assert suggested_stock(10.0, 0.9) == 15
    assert suggested_stock(0.0, 0.3) == 0


def test_suggestions_compare_forecast_with_stock_and_daily_stock(store, menu, forecasts):
    StoreDishOverride.objects.create(brand=store.brand, store=store, dish=menu.noodles, stock=5, daily_stock=8)
    rows = {row.dish.code: row for row in store_suggestions(store, day_index=0)}
    noodles = rows["noodles"]
    assert (noodles.day, noodles.demand, noodles.suggested) == (TOMORROW, 10.0, 13)  # 10 x 1.3
    assert (noodles.stock, noodles.daily_stock, noodles.change) == (5, 8, 5)
    assert noodles.applies and noodles.short_today
    # day 2 forecasts 14: 14 x 1.3 = 18.2 -> 19
    assert {r.dish.code: r for r in store_suggestions(store, day_index=1)}["noodles"].suggested == 19
    dumplings = rows["dumplings"]  # 0.3 portions: nothing to suggest
    assert dumplings.suggested is None and not dumplings.applies and dumplings.stock == 10
    assert rows["tea"].forecast is None and rows["tea"].suggested is None  # never sold
    assert rows["soup"].stock is None  # switched off at this store, still listed


def test_apply_goes_through_the_stores_services_with_an_audit_event(store, menu, store_manager):
    override = StoreDishOverride.objects.create(brand=store.brand, store=store, dish=menu.noodles, daily_stock=8)
    changed = replenishment_apply(actor=store_manager, store=store, quantities={menu.noodles.pk: 13,
                                                                               menu.tea.pk: 4})
    assert changed == 2
    override.refresh_from_db()
    assert (override.daily_stock, override.stock) == (13, None)  # today's stock untouched
    assert StoreDishOverride.objects.get(store=store, dish=menu.tea).daily_stock == 4
    events = {e.data["dish"]: e for e in AuditEvent.objects.filter(action="override.updated")}
    assert events["noodles"].data["changes"] == {"daily_stock": {"from": 8, "to": 13}}
    assert events["noodles"].actor_id == store_manager.pk
    assert events["tea"].data["changes"] == {"daily_stock": {"from": None, "to": 4}}
    assert override.history.first().daily_stock == 13


def test_apply_is_refused_outside_the_actors_stores_and_for_bad_values(store, menu, store_manager):
    other = StoreFactory(brand=store.brand, code="SH009")
    with pytest.raises(StoreAccessDenied):
        replenishment_apply(actor=store_manager, store=other, quantities={menu.noodles.pk: 13})
    with pytest.raises(InvalidOverrideValue):
        replenishment_apply(actor=store_manager, store=store, quantities={menu.noodles.pk: -1})
    with pytest.raises(InvalidOverrideValue):
        replenishment_apply(actor=store_manager, store=store, quantities={})
    assert not StoreDishOverride.objects.filter(dish=menu.noodles).exists()
    assert not AuditEvent.objects.filter(action__startswith="override.").exists()


# --- the page -----------------------------------------------------------------------------


def client_for(user) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


def test_forecast_page_shows_dishes_errors_and_suggestions(store, menu, store_manager, forecasts):
    response = client_for(store_manager).get("/reports/forecast/", {"store": "SH001", "horizon": 3})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="dish-noodles"' in html and "牛肉面" in html
    assert 'id="forecast-wape">30%<' in html and 'id="baseline-wape">40%<' in html
    assert f'name="qty_{menu.noodles.pk}" value="13"' in html
    assert f'name="only" value="{menu.noodles.pk}"' in html
    assert f'name="only" value="{menu.dumplings.pk}"' not in html  # nothing to apply


def test_forecast_page_access(store, menu, store_manager, forecasts):
    other = StoreFactory(brand=store.brand, code="SH009")
    assert client_for(store_manager).get("/reports/forecast/", {"store": other.code}).status_code == 400
    kitchen = make_staff(role=Role.KITCHEN_STAFF, brand=store.brand, stores=[store], phone="13700000009")
    assert client_for(kitchen).get("/reports/forecast/").status_code == 403
    assert Client().get("/reports/forecast/").status_code == 302  # to the admin login
    assert client_for(store_manager).get("/reports/forecast/", {"horizon": "9"}).status_code == 400


def test_apply_asks_for_confirmation_then_sets_the_daily_stock(store, menu, store_manager, forecasts):
    client = client_for(store_manager)
    form = {"only": menu.noodles.pk, f"qty_{menu.noodles.pk}": "13", "horizon": "3", "day": "1"}
    confirm = client.post("/reports/forecast/SH001/apply/", form)
    assert confirm.status_code == 200
    assert 'name="confirm" value="yes"' in confirm.content.decode()
    assert not StoreDishOverride.objects.filter(dish=menu.noodles).exists()  # nothing yet

    done = client.post("/reports/forecast/SH001/apply/", {
        "dish": menu.noodles.pk, f"qty_{menu.noodles.pk}": "13", "horizon": "3", "day": "1", "confirm": "yes",
    }, follow=True)
    assert done.redirect_chain[-1][0].startswith("/reports/forecast/?store=SH001")
    assert StoreDishOverride.objects.get(store=store, dish=menu.noodles).daily_stock == 13
    assert [str(m) for m in done.context["messages"]]
    assert AuditEvent.objects.filter(action="override.created", data__dish="noodles").count() == 1


def test_apply_refuses_another_store_bad_input_and_missing_csrf(store, menu, store_manager, forecasts):
    other = StoreFactory(brand=store.brand, code="SH009")
    client = client_for(store_manager)
    form = {"dish": menu.noodles.pk, f"qty_{menu.noodles.pk}": "13", "confirm": "yes"}
    assert client.post(f"/reports/forecast/{other.code}/apply/", form).status_code == 403
    bad = client.post("/reports/forecast/SH001/apply/", {**form, f"qty_{menu.noodles.pk}": "-3"})
    assert bad.status_code == 400
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(store_manager)
    assert strict.post("/reports/forecast/SH001/apply/", form).status_code == 403
    assert not StoreDishOverride.objects.filter(dish=menu.noodles).exists()


def test_hq_manager_applies_to_any_store_of_the_brand(store, menu, hq_manager, forecasts):
    other = StoreFactory(brand=store.brand, code="SH009")
    response = client_for(hq_manager).post(f"/reports/forecast/{other.code}/apply/", {
        "dish": menu.noodles.pk, f"qty_{menu.noodles.pk}": "7", "confirm": "yes",
    })
    assert response.status_code == 302
    assert StoreDishOverride.objects.get(store=other, dish=menu.noodles).daily_stock == 7
