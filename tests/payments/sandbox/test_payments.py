import time

import pytest

from payments.sandbox.sim import iso

from .conftest import BASE_URL, NOTIFY_URL, START, WX, WX_KEY


def test_create_returns_a_notpay_trade_with_an_absolute_pay_url(api):
    response = api.create("t1", 4500, time_expire="2026-11-22T12:15:00+08:00")
    assert response.status_code == 200
    data = response.json()
    assert data["out_trade_no"] == "t1"
    assert data["status"] == "NOTPAY"
    assert data["amount"] == 4500
    assert data["pay_url"] == f"{BASE_URL}/pay/{data['trade_no']}"
    assert data["qr_content"] == data["pay_url"]
    assert data["created_at"] == "2026-11-22T12:00:00+08:00"
    assert data["time_expire"] == "2026-11-22T12:15:00+08:00"


def test_create_is_idempotent_and_refuses_the_same_number_with_other_terms(api, ali):
    first = api.create("t1", 4500).json()
    again = api.create("t1", 4500)
    assert again.status_code == 200
    assert again.json()["trade_no"] == first["trade_no"]
    other_amount = api.create("t1", 4600)
    assert other_amount.status_code == 409
    assert other_amount.json()["code"] == "OUT_TRADE_NO_USED"
    other_description = api.create("t1", 4500, description="SH001 #13")
    assert other_description.status_code == 409
    assert other_description.json()["code"] == "OUT_TRADE_NO_USED"
    api.pay("t1")
    assert api.create("t1", 4500).json()["status"] == "SUCCESS"  # whatever its status
    # numbers are per merchant: the other merchant may use the same one
    assert ali.create("t1", 100).json()["amount"] == 100
    assert api.sim.summary()["merchants"][WX]["trades"] == {"SUCCESS": {"count": 1, "amount": 4500}}


def test_query(api):
    assert api.query("nope").status_code == 404
    assert api.query("nope").json() == {"code": "ORDER_NOT_EXIST", "message": "no such trade"}
    created = api.create("t1").json()
    paid = api.pay("t1")
    data = api.query("t1").json()
    assert data == paid
    assert data["trade_no"] == created["trade_no"]
    assert data["status"] == "SUCCESS"
    assert data["paid_at"] == "2026-11-22T12:00:00+08:00"
    assert data["payer_account"].startswith("****") and len(data["payer_account"]) == 8
    assert data["refunded"] == 0


def test_merchants_see_only_their_own_trades(api, ali):
    api.create("t1")
    assert ali.query("t1").json()["code"] == "ORDER_NOT_EXIST"


def test_close_notpay_and_paid(api):
    api.create("t1")
    response = api.call("POST", "/v1/payments/t1/close", {})
    assert response.status_code == 200
    assert response.json()["status"] == "CLOSED"
    assert api.query("t1").json()["status"] == "CLOSED"
    assert api.call("POST", "/v1/payments/t1/close", {}).json()["status"] == "CLOSED"  # again: same answer
    api.create("t2")
    api.pay("t2")
    refused = api.call("POST", "/v1/payments/t2/close", {})
    assert refused.status_code == 409
    assert refused.json()["code"] == "ORDER_PAID"
    assert api.query("t2").json()["status"] == "SUCCESS"


def test_close_of_an_unknown_number_leaves_a_tombstone(api, sim):
    assert api.call("POST", "/v1/payments/late/close", {}).json()["status"] == "CLOSED"
    late = api.create("late")
    assert late.status_code == 409
    assert late.json()["code"] == "ORDER_CLOSED"
    query = api.query("late").json()
    assert query["status"] == "CLOSED"
    assert query["trade_no"] == ""
    assert query["amount"] is None
    assert api.http.post("/_sim/pay/late").status_code == 404  # nothing there to pay
    assert sim.summary()["merchants"][WX]["tombstones"] == 1


def test_signature_is_required(api, clock):
    body = {"out_trade_no": "t1", "amount": 1, "description": "x", "notify_url": NOTIFY_URL}
    unsigned = api.http.post("/v1/payments", json=body)
    assert unsigned.status_code == 401
    assert unsigned.json()["code"] == "SIGN_ERROR"
    assert api.call("POST", "/v1/payments", body, key="wrong").json()["code"] == "SIGN_ERROR"
    assert api.call("POST", "/v1/payments", body, mch_id="nobody").json()["message"] == "unknown merchant"
    stale = api.call("POST", "/v1/payments", body, timestamp=int(time.time()) - 301)
    assert stale.status_code == 401
    assert "300 s" in stale.json()["message"]
    # the signature covers the path: signed for one trade, sent for another
    from payments.sandbox import signed_headers

    headers = signed_headers(WX, WX_KEY, "GET", "/v1/payments/a")
    assert api.http.get("/v1/payments/b", headers=headers).json()["code"] == "SIGN_ERROR"
    assert api.sim.summary()["merchants"][WX]["trades"] == {}


def test_the_base_path_is_optional(api):
    """Mounted behind /paysim or served at the root, the path signed is the one below the base URL."""
    api.create("t1")
    import httpx

    root = httpx.Client(transport=httpx.WSGITransport(app=api.sim.wsgi_app), base_url="http://paysim.test")
    from payments.sandbox import signed_headers

    response = root.get("/v1/payments/t1", headers=signed_headers(WX, WX_KEY, "GET", "/v1/payments/t1"))
    assert response.status_code == 200
    assert response.json()["out_trade_no"] == "t1"
    assert root.get("/healthz").text == "ok"


def test_expiry_closes_the_trade_lazily_and_in_the_background(api, sim, clock):
    api.create("t1", time_expire=iso(START + 60))
    api.create("t2", time_expire=iso(START + 60))
    clock.advance(59)
    assert api.query("t1").json()["status"] == "NOTPAY"
    clock.advance(1)
    expired = api.query("t1").json()
    assert expired["status"] == "CLOSED"
    assert expired["closed_at"] == iso(START + 60)
    assert sim.expire_due() == 1  # t2, by the notifier's sweep
    assert api.query("t2").json()["status"] == "CLOSED"
    assert sim.expire_due() == 0
    closed_events = [n for n in sim.notifications() if n["type"] == "payment.closed"]
    assert sorted(n["subject"] for n in closed_events) == ["t1", "t2"]
    refused = api.http.post(f"/_sim/pay/t1?mch={WX}")
    assert refused.status_code == 409
    assert refused.json()["code"] == "ORDER_CLOSED"


def test_trades_expire_after_two_hours_by_default(api, clock):
    data = api.create("t1").json()
    assert data["time_expire"] == iso(START + 7200)
    clock.advance(7200)
    assert api.query("t1").json()["status"] == "CLOSED"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"amount": 1, "description": "x", "notify_url": NOTIFY_URL}, "out_trade_no is required"),
        ({"out_trade_no": "t1", "description": "x", "notify_url": NOTIFY_URL}, "amount is required"),
        ({"out_trade_no": "t1", "amount": 0, "description": "x", "notify_url": NOTIFY_URL}, "amount must be positive"),
        ({"out_trade_no": "t1", "amount": -5, "description": "x", "notify_url": NOTIFY_URL}, "amount must be positive"),
        ({"out_trade_no": "t1", "amount": 10**30, "description": "x", "notify_url": NOTIFY_URL},
         "amount is larger than 10000000000"),
        ({"out_trade_no": "t1", "amount": 45.5, "description": "x", "notify_url": NOTIFY_URL},
         "amount must be an integer number of fen"),
        ({"out_trade_no": "t1", "amount": "4500", "description": "x", "notify_url": NOTIFY_URL},
         "amount must be an integer number of fen"),
        ({"out_trade_no": "t1", "amount": True, "description": "x", "notify_url": NOTIFY_URL},
         "amount must be an integer number of fen"),
        ({"out_trade_no": "t1", "amount": 1, "notify_url": NOTIFY_URL}, "description is required"),
        ({"out_trade_no": "t1", "amount": 1, "description": "x"}, "notify_url is required"),
        ({"out_trade_no": "t1", "amount": 1, "description": "x", "notify_url": "javascript:alert(1)"},
         "notify_url must be an absolute http(s) URL"),
        ({"out_trade_no": "t/1", "amount": 1, "description": "x", "notify_url": NOTIFY_URL},
         "out_trade_no has characters that are not allowed"),
        ({"out_trade_no": "t" * 65, "amount": 1, "description": "x", "notify_url": NOTIFY_URL},
         "out_trade_no is longer than 64 characters"),
        ({"out_trade_no": "t1", "amount": 1, "description": "x", "notify_url": NOTIFY_URL,
          "time_expire": "2026-11-22T12:15:00"}, "time_expire must have a UTC offset"),
        ({"out_trade_no": "t1", "amount": 1, "description": "x", "notify_url": NOTIFY_URL,
          "time_expire": "tomorrow"}, "time_expire must be an ISO 8601 time with an offset"),
        ({"out_trade_no": "t1", "amount": 1, "description": "x", "notify_url": NOTIFY_URL,
          "time_expire": "2026-11-22T11:00:00+08:00"}, "time_expire is in the past"),
    ],
)
def test_bad_create_bodies_are_param_errors(api, body, message):
    response = api.call("POST", "/v1/payments", body)
    assert response.status_code == 400
    assert response.json() == {"code": "PARAM_ERROR", "message": message}
    assert api.sim.summary()["merchants"][WX]["trades"] == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "the body is not valid JSON"),
        (b"[1, 2]", "the body must be a JSON object"),
        (b'{"amount": NaN}', "the body is not valid JSON"),
        (b"[" * 5000 + b"]" * 5000, "the body is not valid JSON"),
    ],
)
def test_malformed_json_is_a_param_error(api, raw, message):
    response = api.call("POST", "/v1/payments", raw=raw)
    assert response.status_code == 400
    assert response.json() == {"code": "PARAM_ERROR", "message": message}


def test_oversized_unknown_and_wrong_method(api):
    big = api.call("POST", "/v1/payments", raw=b'{"x": "' + b"a" * 70_000 + b'"}')
    assert big.status_code == 413
    assert big.json()["code"] == "REQUEST_TOO_LARGE"
    unknown = api.call("GET", "/v1/nothing")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "NOT_FOUND"
    assert api.http.get("/favicon.ico").json()["code"] == "NOT_FOUND"
    wrong = api.call("DELETE", "/v1/payments/t1")
    assert wrong.status_code == 405
    assert wrong.json() == {"code": "METHOD_NOT_ALLOWED", "message": "use GET"}
    assert api.call("GET", "/v1/payments/a%2Fb").status_code in (400, 404)
    assert api.http.get("/healthz").text == "ok"


def test_the_sim_endpoints_answer_loopback_only(sim):
    import httpx

    remote = httpx.Client(transport=httpx.WSGITransport(app=sim.wsgi_app, remote_addr="203.0.113.9"),
                          base_url=BASE_URL)
    assert remote.get("/_sim/summary").status_code == 403
    assert remote.post("/_sim/config", json={"error_rate": 1}).json()["code"] == "FORBIDDEN"
    assert sim.faults["error_rate"] == 0
    local6 = httpx.Client(transport=httpx.WSGITransport(app=sim.wsgi_app, remote_addr="::1"), base_url=BASE_URL)
    assert local6.get("/_sim/summary").status_code == 200


def test_sim_pay_is_idempotent_and_needs_the_merchant_when_ambiguous(api, ali, sender):
    api.create("same")
    ali.create("same", 100)
    ambiguous = api.http.post("/_sim/pay/same")
    assert ambiguous.status_code == 400
    first = api.pay("same")
    assert api.pay("same") == first
    payment_events = [n for n in api.sim.notifications() if n["type"] == "payment.succeeded"]
    assert len(payment_events) == 1
