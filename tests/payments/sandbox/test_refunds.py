import pytest

from payments.sandbox.sim import iso

from .conftest import START, WX


@pytest.fixture
def paid(api):
    api.create("t1", 4500)
    return api.pay("t1")


def test_refund_succeeds_at_once_by_default(api, sim, paid):
    response = api.refund("r1", 1200)
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "SUCCESS"
    assert data["out_refund_no"] == "r1"
    assert data["out_trade_no"] == "t1"
    assert data["amount"] == 1200
    assert data["success_at"] == iso(START)
    assert data["failure_reason"] == ""
    assert api.call("GET", "/v1/refunds/r1").json() == data
    assert api.query("t1").json()["refunded"] == 1200
    assert api.query("t1").json()["status"] == "SUCCESS"
    assert [n["type"] for n in sim.notifications()] == ["payment.succeeded", "refund.succeeded"]


def test_the_same_out_refund_no_never_refunds_twice(api, sim, paid):
    first = api.refund("r1", 1200).json()
    again = api.refund("r1", 1200)
    assert again.status_code == 200
    assert again.json() == first
    assert api.query("t1").json()["refunded"] == 1200
    other_amount = api.refund("r1", 1300)
    assert other_amount.status_code == 409
    assert other_amount.json()["code"] == "OUT_REFUND_NO_USED"
    api.create("t2", 500)
    api.pay("t2")
    assert api.refund("r1", 1200, out_trade_no="t2").json()["code"] == "OUT_REFUND_NO_USED"
    assert sim.summary()["merchants"][WX]["refunds"] == {"SUCCESS": {"count": 1, "amount": 1200}}


def test_refunds_never_exceed_the_trade_and_a_full_refund_is_status_refund(api, paid):
    assert api.refund("r1", 3000).json()["status"] == "SUCCESS"
    exceeded = api.refund("r2", 1501)
    assert exceeded.status_code == 400
    assert exceeded.json()["code"] == "REFUND_AMOUNT_EXCEEDED"
    assert api.call("GET", "/v1/refunds/r2").json()["code"] == "REFUND_NOT_EXIST"
    assert api.refund("r3", 1500).json()["status"] == "SUCCESS"
    trade = api.query("t1").json()
    assert trade["status"] == "REFUND"
    assert trade["refunded"] == 4500
    assert api.refund("r4", 1).json()["code"] == "REFUND_AMOUNT_EXCEEDED"
    assert api.call("POST", "/v1/payments/t1/close", {}).json()["code"] == "ORDER_PAID"


def test_refund_of_an_unpaid_or_unknown_trade(api):
    assert api.refund("r1", 100, out_trade_no="nope").json()["code"] == "ORDER_NOT_EXIST"
    api.create("t1")
    unpaid = api.refund("r1", 100)
    assert unpaid.status_code == 409
    assert unpaid.json()["code"] == "ORDER_CLOSED"
    api.call("POST", "/v1/payments/t1/close", {})
    assert api.refund("r1", 100).json()["code"] == "ORDER_CLOSED"
    assert api.refund("r1", 0).json()["code"] == "PARAM_ERROR"
    assert api.call("GET", "/v1/refunds/r1").status_code == 404


def test_not_enough_balance_records_nothing(api, sim, paid):
    assert api.configure(merchant_balance=1000).json()["merchant_balance"] == 1000
    refused = api.refund("r1", 2000)
    assert refused.status_code == 409
    assert refused.json()["code"] == "NOT_ENOUGH"
    assert api.call("GET", "/v1/refunds/r1").json()["code"] == "REFUND_NOT_EXIST"
    assert api.refund("r2", 1000).json()["status"] == "SUCCESS"
    assert sim.summary()["merchants"][WX]["balance"] == 0
    # a capture adds to the balance; the refused number can then be used
    api.create("t2", 1500)
    api.pay("t2")
    assert sim.summary()["merchants"][WX]["balance"] == 1500
    assert api.refund("r1", 1500).json()["status"] == "SUCCESS"
    assert sim.summary()["merchants"][WX]["balance"] == 0
    api.configure(merchant_balance=None)
    assert sim.summary()["merchants"][WX]["balance"] is None
    assert api.refund("r3", 1500, out_trade_no="t1").json()["status"] == "SUCCESS"


def test_processing_refund_succeeds_after_the_delay(api, sim, clock, paid):
    api.configure(refund_processing_seconds=30)
    data = api.refund("r1", 1200).json()
    assert data["status"] == "PROCESSING"
    assert data["success_at"] is None
    clock.advance(29)
    assert api.call("GET", "/v1/refunds/r1").json()["status"] == "PROCESSING"
    assert api.query("t1").json()["refunded"] == 0
    # while processing it counts against the trade
    assert api.refund("r2", 3301).json()["code"] == "REFUND_AMOUNT_EXCEEDED"
    clock.advance(1)
    done = api.call("GET", "/v1/refunds/r1").json()
    assert done["status"] == "SUCCESS"
    assert done["success_at"] == iso(START + 30)
    assert api.query("t1").json()["refunded"] == 1200
    assert [n["type"] for n in sim.notifications()][-1] == "refund.succeeded"


def test_processing_refunds_are_settled_by_the_sweep(api, sim, clock, paid):
    api.configure(refund_processing_seconds=10)
    api.refund("r1", 4500)
    clock.advance(10)
    assert sim.expire_due() == 1
    refund = sim.notifications()[-1]
    assert refund["type"] == "refund.succeeded"
    assert api.query("t1").json()["status"] == "REFUND"


def test_abnormal_refund_fails_for_good_and_frees_the_amount(api, sim, clock, paid):
    api.configure(refund_fail_rate=1.0, merchant_balance=5000)
    data = api.refund("r1", 4500).json()
    assert data["status"] == "ABNORMAL"
    assert data["failure_reason"] == "account closed"
    assert data["success_at"] is None
    assert api.refund("r1", 4500).json()["status"] == "ABNORMAL"  # idempotent, still failed
    assert sim.summary()["merchants"][WX]["balance"] == 5000  # given back
    assert sim.notifications()[-1]["type"] == "refund.abnormal"
    api.configure(refund_fail_rate=0.0, refund_processing_seconds=5)
    second = api.refund("r2", 4500).json()  # the failed one does not count against the trade
    assert second["status"] == "PROCESSING"
    clock.advance(5)
    assert api.call("GET", "/v1/refunds/r2").json()["status"] == "SUCCESS"
    assert api.query("t1").json()["status"] == "REFUND"


def test_abnormal_after_processing(api, sim, clock, paid):
    api.configure(refund_fail_rate=1.0, refund_processing_seconds=60)
    assert api.refund("r1", 100).json()["status"] == "PROCESSING"
    clock.advance(60)
    assert api.call("GET", "/v1/refunds/r1").json()["status"] == "ABNORMAL"
    assert [n["type"] for n in sim.notifications()] == ["payment.succeeded", "refund.abnormal"]
