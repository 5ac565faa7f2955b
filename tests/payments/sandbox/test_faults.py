import pytest

from payments.sandbox.faults import DEFAULTS, FaultConfigError, Faults, validate

from .conftest import WX, Api


@pytest.mark.parametrize(
    "changes",
    [
        {"error_rate": 1.5}, {"error_rate": -0.1}, {"error_rate": "0.5"}, {"drop_rate": True},
        {"latency_ms": [10, 5]}, {"latency_ms": [1]}, {"latency_ms": [0, 10**9]}, {"timeout_seconds": -1},
        {"merchant_balance": 1.5}, {"merchant_balance": -1}, {"seed": [1]}, {"nonsense": 1},
        {"refund_processing_seconds": float("inf")},
    ],
)
def test_bad_settings_are_refused(changes):
    with pytest.raises(FaultConfigError):
        validate(changes)


def test_settings_are_normalised():
    assert validate({"latency_ms": 50, "error_rate": 0, "merchant_balance": None, "seed": "x"}) == {
        "latency_ms": [50.0, 50.0], "error_rate": 0.0, "merchant_balance": None, "seed": "x"}
    assert Faults().snapshot() == DEFAULTS


def test_config_endpoint_changes_all_or_nothing(api, sim):
    assert api.http.get("/_sim/config").json()["error_rate"] == 0
    refused = api.configure(error_rate=0.5, drop_rate=7)
    assert refused.status_code == 400
    assert refused.json() == {"code": "PARAM_ERROR", "message": "drop_rate must be between 0 and 1"}
    assert sim.faults["error_rate"] == 0
    assert api.http.post("/_sim/config", content=b"nope").json()["code"] == "PARAM_ERROR"
    changed = api.configure(error_rate=0.5, seed=9)
    assert changed.status_code == 200
    assert changed.json()["error_rate"] == 0.5
    assert api.http.get("/_sim/config").json()["seed"] == 9


def outcomes(sim, calls=40):
    api = Api(sim)
    return [api.query("none").status_code for _ in range(calls)]


def test_faults_are_reproducible_with_a_seed(make_sim):
    faults = {"error_rate": 0.3, "timeout_rate": 0.2, "timeout_seconds": 0, "seed": 42}
    first = outcomes(make_sim(faults, db="a.sqlite3"))
    second = outcomes(make_sim(faults, db="b.sqlite3"))
    other = outcomes(make_sim({**faults, "seed": 43}, db="c.sqlite3"))
    assert first == second
    assert first != other
    assert set(first) == {404, 500}  # 404: the call ran (the number is unknown); 500: injected
    # notifications and refunds draw from their own streams, also reproducible
    fates = [Faults({"drop_rate": 0.5, "duplicate_rate": 0.5, "reorder_rate": 0.5, "seed": "s"}).notification()
             for _ in range(2)]
    assert fates[0] == fates[1]


def test_injected_errors_are_half_before_and_half_after_taking_effect(make_sim):
    sim = make_sim({"error_rate": 1.0, "seed": 1})
    api = Api(sim)
    answers = [api.create(f"t{n}", 100).status_code for n in range(40)]
    assert answers == [500] * 40
    created = sim.summary()["merchants"][WX]["trades"].get("NOTPAY", {}).get("count", 0)
    assert 5 < created < 35  # some took effect although the answer was an error, some did not
    assert api.create("t0", 100).json()["code"] == "SYSTEM_ERROR"
    sim.configure({"error_rate": 0})
    # the merchant repeats: the same number gives the one trade, whichever happened
    retried = [api.create(f"t{n}", 100).status_code for n in range(40)]
    assert retried == [200] * 40
    assert sim.summary()["merchants"][WX]["trades"]["NOTPAY"]["count"] == 40


def test_timeouts_hang_then_answer_and_may_have_taken_effect(make_sim):
    slept = []
    sim = make_sim({"timeout_rate": 1.0, "timeout_seconds": 7, "seed": 5}, sleep=slept.append)
    api = Api(sim)
    answers = [api.create(f"t{n}", 100) for n in range(20)]
    assert slept == [7.0] * 20
    after = [r for r in answers if r.status_code == 200]
    before = [r for r in answers if r.status_code == 500]
    assert after and before
    assert len(after) + len(before) == 20
    assert sim.summary()["merchants"][WX]["trades"]["NOTPAY"]["count"] == len(after)


def test_latency_slows_merchant_calls_only(make_sim):
    slept = []
    sim = make_sim({"latency_ms": [100, 300], "seed": 2}, sleep=slept.append)
    api = Api(sim)
    trade = api.create("t1").json()
    api.query("t1")
    assert len(slept) == 2
    assert all(0.1 <= s <= 0.3 for s in slept)
    api.http.get(f"/pay/{trade['trade_no']}")
    api.http.get("/_sim/summary")
    api.http.get("/healthz")
    api.pay("t1")
    assert len(slept) == 2
    unsigned = api.http.get("/v1/payments/t1")
    assert unsigned.status_code == 401
    assert len(slept) == 2  # refused before any fault


def test_refund_failures_are_reproducible(make_sim):
    def fates(db):
        sim = make_sim({"refund_fail_rate": 0.5, "seed": 11}, db=db)
        api = Api(sim)
        api.create("t1", 10_000)
        api.pay("t1")
        return [api.refund(f"r{n}", 100).json()["status"] for n in range(20)]

    first, second = fates("a.sqlite3"), fates("b.sqlite3")
    assert first == second
    assert set(first) == {"SUCCESS", "ABNORMAL"}
