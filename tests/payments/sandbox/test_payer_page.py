"""The customer's page: a plain HTML form, through the WSGI app (no Django view involved)."""

import pytest

from payments.sandbox.sim import iso

from .conftest import RETURN_URL, START


@pytest.fixture
def trade(api):
    return api.create("t1", 4500).json()


def page_path(trade):
    return f"/pay/{trade['trade_no']}"


def test_the_page_shows_merchant_description_amount_and_both_buttons(api, trade):
    response = api.http.get(page_path(trade), headers={"Accept-Language": "en"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert "WeChat Pay (sandbox)" in html
    assert "SH001 #12" in html
    assert "¥45.00" in html
    assert 'name="action" value="confirm"' in html
    assert 'name="action" value="cancel"' in html
    assert "Confirm payment" in html
    assert '<html lang="en">' in html


def test_confirm_pays_redirects_and_notifies(api, sim, trade):
    response = api.http.post(page_path(trade), data={"action": "confirm"})
    assert response.status_code == 303
    assert response.headers["location"] == RETURN_URL
    data = api.query("t1").json()
    assert data["status"] == "SUCCESS"
    assert data["payer_account"].startswith("****")
    [event] = sim.notifications()
    assert event["type"] == "payment.succeeded"
    assert event["subject"] == "t1"
    # a second click is harmless: the same redirect, no second notification
    assert api.http.post(page_path(trade), data={"action": "confirm"}).status_code == 303
    assert len(sim.notifications()) == 1
    # and the page now says it is paid, without buttons
    html = api.http.get(page_path(trade), headers={"Accept-Language": "en"}).text
    assert "This payment has been made." in html
    assert 'value="confirm"' not in html


def test_cancel_closes_redirects_and_notifies(api, sim, trade):
    response = api.http.post(page_path(trade), data={"action": "cancel"})
    assert response.status_code == 303
    assert response.headers["location"] == RETURN_URL
    assert api.query("t1").json()["status"] == "CLOSED"
    assert [n["type"] for n in sim.notifications()] == ["payment.closed"]
    refused = api.http.post(page_path(trade), data={"action": "confirm"}, headers={"Accept-Language": "en"})
    assert refused.status_code == 409
    assert "can no longer be paid" in refused.text
    assert api.query("t1").json()["status"] == "CLOSED"


def test_an_expired_trade_shows_closed_and_cannot_be_paid(api, clock):
    trade = api.create("t9", 100, time_expire=iso(START + 30)).json()
    clock.advance(31)
    html = api.http.get(page_path(trade), headers={"Accept-Language": "en"}).text
    assert "This payment is closed or expired." in html
    assert 'value="confirm"' not in html
    assert api.http.post(page_path(trade), data={"action": "confirm"}).status_code == 409
    assert api.query("t9").json()["status"] == "CLOSED"


def test_unknown_trade_and_bad_action(api, trade):
    missing = api.http.get("/pay/00000000", headers={"Accept-Language": "en"})
    assert missing.status_code == 404
    assert "This payment link is unknown." in missing.text
    assert api.http.post("/pay/00000000", data={"action": "confirm"}).status_code == 404
    assert api.http.get("/pay/<script>").status_code == 404
    bad = api.http.post(page_path(trade), data={"action": "steal"})
    assert bad.status_code == 400
    assert api.query("t1").json()["status"] == "NOTPAY"


def test_the_page_is_translated_and_never_slowed(make_sim, clock):
    slept = []
    sim = make_sim({"latency_ms": [500, 500], "error_rate": 1.0}, sleep=slept.append)
    from .conftest import Api

    api = Api(sim)
    sim.configure({"error_rate": 0})
    trade = api.create("t1").json()
    assert slept == [0.5]  # the merchant call was slowed
    sim.configure({"error_rate": 1.0})
    html = api.http.get(page_path(trade), headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert '<html lang="zh-hans">' in html
    assert api.http.post(page_path(trade), data={"action": "confirm"}).status_code == 303
    assert slept == [0.5]  # the payer page was not
