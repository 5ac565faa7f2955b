from datetime import datetime

from payments.sandbox.sim import SHANGHAI, iso


def at(day, hour, minute, second=0):
    return datetime(2026, 11, day, hour, minute, second, tzinfo=SHANGHAI).timestamp()


def test_statement_lists_captures_by_paid_day_and_refunds_by_success_day(api, ali, clock):
    clock.now = at(22, 9, 0)
    later = "2026-11-24T00:00:00+08:00"
    api.create("a", 4500, time_expire=later)
    api.create("b", 2000, time_expire=later)
    api.create("c", 999, time_expire=later)  # never paid: in no statement
    ali.create("x", 7000, time_expire=later)
    clock.now = at(22, 23, 59, 50)  # Shanghai: the last seconds of the 22nd (15:59:50 UTC)
    api.pay("a")
    ali.pay("x")
    api.configure(refund_processing_seconds=30)
    api.refund("ra", 1000, out_trade_no="a")  # succeeds at 00:00:20 on the 23rd
    clock.now = at(23, 0, 0, 10)
    api.pay("b")
    api.configure(refund_processing_seconds=0, refund_fail_rate=1.0)
    api.refund("rb-failed", 500, out_trade_no="b")  # ABNORMAL: never in a statement
    api.configure(refund_fail_rate=0.0, refund_processing_seconds=3600)
    api.refund("rb-slow", 700, out_trade_no="b")  # still PROCESSING: not in the statement yet
    clock.now = at(23, 0, 1)

    day22 = api.call("GET", "/v1/statements/2026-11-22").json()
    assert day22 == {
        "date": "2026-11-22",
        "captures": [{"out_trade_no": "a", "trade_no": day22["captures"][0]["trade_no"], "amount": 4500,
                      "at": "2026-11-22T23:59:50+08:00"}],
        "refunds": [],
        "total_captured": 4500,
        "total_refunded": 0,
    }
    day23 = api.call("GET", "/v1/statements/2026-11-23").json()
    assert [(c["out_trade_no"], c["amount"], c["at"]) for c in day23["captures"]] == [
        ("b", 2000, "2026-11-23T00:00:10+08:00")]
    assert [(r["out_refund_no"], r["out_trade_no"], r["amount"], r["at"]) for r in day23["refunds"]] == [
        ("ra", "a", 1000, iso(at(23, 0, 0, 20)))]
    assert day23["refunds"][0]["refund_id"]
    assert day23["total_captured"] == 2000
    assert day23["total_refunded"] == 1000
    # the other merchant's statement holds only its own capture
    assert ali.call("GET", "/v1/statements/2026-11-22").json()["total_captured"] == 7000
    assert ali.call("GET", "/v1/statements/2026-11-23").json()["captures"] == []
    empty = api.call("GET", "/v1/statements/2026-11-21").json()
    assert (empty["captures"], empty["refunds"], empty["total_captured"]) == ([], [], 0)


def test_statement_date_must_be_a_real_day(api):
    for bad in ("2026-13-01", "20261122", "yesterday", "2026-02-30"):
        response = api.call("GET", f"/v1/statements/{bad}")
        assert response.status_code == 400
        assert response.json() == {"code": "PARAM_ERROR", "message": "the date must be YYYY-MM-DD"}
