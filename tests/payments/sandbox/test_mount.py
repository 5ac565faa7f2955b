"""The sandbox mounted in the demo: a Django view in front of the same WSGI app."""

import json

import pytest
from django.test import Client

from payments.sandbox import conf, signed_headers

KEY = "sandbox-wechat-key-change-me"


@pytest.fixture
def mounted(settings, tmp_path):
    settings.PAYSIM = {**settings.PAYSIM, "db_path": str(tmp_path / "mounted.sqlite3"),
                       "public_base_url": "http://testserver/paysim", "mount": True}
    conf.reset_mounted()
    yield
    conf.reset_mounted()


pytestmark = [pytest.mark.urls("tests.payments.sandbox.mounted_urls")]


def signed_post(client, path, body):
    raw = json.dumps(body)
    headers = {f"HTTP_{k.upper().replace('-', '_')}": v
               for k, v in signed_headers("wx-sandbox-mch", KEY, "POST", path, raw).items()}
    return client.post(f"/paysim{path}", data=raw, content_type="application/json", **headers)


def test_the_mounted_sandbox_answers_through_django(mounted):
    client = Client(enforce_csrf_checks=True)  # the view is CSRF-exempt: signed calls need no token
    assert client.get("/paysim/healthz").content == b"ok"
    response = signed_post(client, "/v1/payments", {
        "out_trade_no": "m1", "amount": 4500, "description": "SH001 #12",
        "notify_url": "http://127.0.0.1:9/notify", "return_url": "http://testserver/orders/1/"})
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["pay_url"] == f"http://testserver/paysim/pay/{data['trade_no']}"
    sim = conf.get_mounted()
    assert sim.notifier.running  # started lazily by the first request
    assert sim.merchants["ali-sandbox-mch"]["channel"] == "alipay"

    page = client.get(f"/paysim/pay/{data['trade_no']}", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "Confirm payment" in page.content.decode()
    assert "¥45.00" in page.content.decode()
    confirm = client.post(f"/paysim/pay/{data['trade_no']}", "action=confirm",
                          content_type="application/x-www-form-urlencoded")  # what the page's form sends
    assert confirm.status_code == 303
    assert confirm["Location"] == "http://testserver/orders/1/"
    assert sim.query_payment("wx-sandbox-mch", "m1")["status"] == "SUCCESS"


def test_mounted_errors_are_json(mounted, settings):
    client = Client()
    unsigned = client.post("/paysim/v1/payments", data="{}", content_type="application/json")
    assert unsigned.status_code == 401
    assert unsigned.json()["code"] == "SIGN_ERROR"
    assert client.get("/paysim/nowhere").json()["code"] == "NOT_FOUND"
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    big = client.post("/paysim/v1/payments", data="x" * 5000, content_type="application/json")
    assert big.status_code == 413
    assert big.json()["code"] == "REQUEST_TOO_LARGE"


def test_the_demo_urlconf_mounts_it_only_when_asked(settings):
    from django.conf import settings as live

    assert live.PAYSIM["mount"] is False  # test settings
    import config.settings.local as local

    assert local.PAYSIM["mount"] is True
    assert local.PAYSIM["public_base_url"].endswith("/paysim")
    assert set(local.PAYSIM["merchants"]) == {"wx-sandbox-mch", "ali-sandbox-mch"}
