"""Many clients at once: the sandbox's own storage keeps its promises (real threads, in process)."""

import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import NOTIFY_URL, WX, Api


def run_together(sim, count, target):
    """``target(api, n)`` in ``count`` threads released at the same moment; their results in order."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def worker(index):
        api = Api(sim)
        barrier.wait()
        results[index] = target(api, index)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results



def test_concurrent_refunds_never_exceed_the_trade(sim):
    api = Api(sim)
    api.create("t1", 4500)
    api.pay("t1")
    results = run_together(sim, 16, lambda api, n: api.refund(f"r{n}", 1000).json().get("status") or "EXCEEDED")
    assert sorted(results).count("SUCCESS") == 4
    assert sorted(results).count("EXCEEDED") == 12
    assert api.query("t1").json()["refunded"] == 4000
    same = run_together(sim, 16, lambda api, n: api.refund("same", 500).json()["refund_id"])
    assert len(set(same)) == 1
    assert sim.summary()["merchants"][WX]["refunds"] == {"SUCCESS": {"count": 5, "amount": 4500}}


def test_concurrent_creates_and_pays_of_one_number_make_one_trade(sim, sender):
    trade_nos = run_together(sim, 16, lambda api, n: api.create("t1", 4500).json()["trade_no"])
    assert len(set(trade_nos)) == 1
    paid = run_together(sim, 16, lambda api, n: api.pay("t1")["status"])
    assert paid == ["SUCCESS"] * 16
    assert sim.deliver_due() == 1  # one payment, one notification


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(
    st.sampled_from(["out_trade_no", "amount", "description", "notify_url", "return_url", "time_expire",
                     "out_refund_no", "reason", "x"]),
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=80),
              st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)),
))
def test_no_body_ever_causes_a_server_error(api, body):
    body.setdefault("notify_url", NOTIFY_URL)
    for path in ("/v1/payments", "/v1/refunds"):
        response = api.call("POST", path, body)
        assert response.status_code in (200, 400, 404, 409), response.text
        assert "code" in response.json() or response.status_code == 200
