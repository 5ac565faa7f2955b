import json
import threading
import time

from payments.sandbox import verify
from payments.sandbox.notifier import MAX_ATTEMPTS, backoff_seconds

from .conftest import ALI_KEY, NOTIFY_URL, START, WX, WX_KEY, Api


def test_a_notification_is_signed_with_the_merchants_key(api, sim, sender):
    api.create("t1", 4500)
    api.pay("t1")
    assert sim.deliver_due() == 1
    [(url, headers, body)] = sender.calls
    assert url == NOTIFY_URL
    assert headers["X-Paysim-Mch"] == WX
    assert headers["Content-Type"] == "application/json"
    assert len(headers["X-Paysim-Nonce"]) >= 16
    assert abs(int(headers["X-Paysim-Timestamp"]) - time.time()) < 5  # real time: the receiver checks it
    args = (headers["X-Paysim-Timestamp"], headers["X-Paysim-Nonce"], "POST", "notify", body)
    assert verify(WX_KEY, *args, headers["X-Paysim-Signature"])
    assert not verify(ALI_KEY, *args, headers["X-Paysim-Signature"])
    assert not verify(WX_KEY, *args[:4], body.replace(b"4500", b"4501"), headers["X-Paysim-Signature"])
    event = json.loads(body)
    assert event["id"].startswith("evt_")
    assert event["type"] == "payment.succeeded"
    assert event["created_at"] == "2026-11-22T12:00:00+08:00"
    assert event["resource"] == {"out_trade_no": "t1", "status": "SUCCESS", "amount": 4500}
    assert sim.deliver_due() == 0  # acknowledged: never again
    assert sim.summary()["merchants"][WX]["notifications"] == {
        "sent": 1, "acknowledged": 1, "dropped": 0, "pending": 0, "failed": 0}


def test_refund_events_name_the_refund(api, sim, sender):
    api.create("t1", 4500)
    api.pay("t1")
    api.refund("r1", 100, notify_url="http://shop.test/refund-hook/")
    sim.deliver_due()
    assert sender.calls[-1][0] == "http://shop.test/refund-hook/"
    assert sender.events[-1]["resource"] == {"out_trade_no": "t1", "out_refund_no": "r1", "status": "SUCCESS",
                                             "amount": 100}


def test_retried_with_back_off_until_acknowledged(api, sim, sender, clock):
    sender.statuses = [500, None, 404, 200]  # error, no answer, not found, then OK
    api.create("t1")
    api.pay("t1")
    assert sim.deliver_due(START) == 1
    assert sim.deliver_due(START + 0.99) == 0
    assert sim.deliver_due(START + 1) == 1  # 1 s after the first failure
    assert sim.deliver_due(START + 1 + 1.99) == 0
    assert sim.deliver_due(START + 3) == 1  # then 2 s
    assert sim.deliver_due(START + 3 + 3.99) == 0
    assert sim.deliver_due(START + 7) == 1  # then 4 s: acknowledged
    assert sim.deliver_due(START + 10_000) == 0
    assert len({event["id"] for event in sender.events}) == 1  # the same event every time
    [row] = sim.notifications()
    assert (row["status"], row["attempts"], row["last_status"]) == ("delivered", 4, 200)
    assert sim.summary()["merchants"][WX]["notifications"]["sent"] == 4


def test_back_off_is_capped_scaled_and_gives_up_after_twelve_attempts(make_sim, sender, clock):
    assert [backoff_seconds(n, 1.0) for n in (1, 2, 3, 6, 7, 11)] == [1, 2, 4, 32, 60, 60]
    assert backoff_seconds(3, 0.01) == 0.04
    sim = make_sim({"notify_backoff_scale": 0.001})
    api = Api(sim)
    sender.default = 503
    api.create("t1")
    api.pay("t1")
    now = START
    for _ in range(MAX_ATTEMPTS):
        assert sim.deliver_due(now) == 1
        now += 0.061  # more than the largest scaled delay
    assert sim.deliver_due(now + 3600) == 0
    [row] = sim.notifications()
    assert (row["status"], row["attempts"], row["last_error"]) == ("failed", MAX_ATTEMPTS, "HTTP 503")
    assert sim.summary()["merchants"][WX]["notifications"]["failed"] == 1


def test_duplicates_keep_the_same_event_id(make_sim, sender):
    sim = make_sim({"duplicate_rate": 1.0})
    api = Api(sim)
    api.create("t1")
    api.pay("t1")
    assert sim.deliver_due() == 2
    first, second = sender.events
    assert first == second
    counts = sim.summary()["merchants"][WX]["notifications"]
    assert (counts["sent"], counts["acknowledged"]) == (2, 2)


def test_dropped_notifications_are_recorded_and_never_sent(make_sim, sender, clock):
    sim = make_sim({"drop_rate": 1.0})
    api = Api(sim)
    api.create("t1")
    api.pay("t1")
    assert sim.deliver_due(START + 86400) == 0
    assert sender.calls == []
    [row] = sim.notifications()
    assert row["status"] == "dropped"
    assert sim.summary()["merchants"][WX]["notifications"] == {
        "sent": 0, "acknowledged": 0, "dropped": 1, "pending": 0, "failed": 0}
    assert api.query("t1").json()["status"] == "SUCCESS"  # the payment happened all the same


def test_reordering_holds_an_event_back_so_a_later_one_overtakes_it(make_sim, sender, clock):
    sim = make_sim({"reorder_rate": 1.0, "reorder_max_seconds": 5, "seed": 3})
    api = Api(sim)
    api.create("t1")
    api.pay("t1")  # payment.succeeded, held back
    [held] = sim.notifications()
    assert 0.5 <= held["held_back"] <= 5
    sim.configure({"reorder_rate": 0.0})
    api.refund("r1", 100)  # refund.succeeded, due at once
    assert sim.deliver_due(START) == 1
    assert sim.deliver_due(START + 5) == 1
    assert [event["type"] for event in sender.events] == ["refund.succeeded", "payment.succeeded"]


def test_one_trades_events_go_out_in_order_even_with_parallel_senders(make_sim, sender):
    sim = make_sim(notify_workers=8)
    api = Api(sim)
    for n in range(20):
        api.create(f"t{n}", 100 + n)
        api.pay(f"t{n}")
        api.refund(f"r{n}", 50, out_trade_no=f"t{n}")
    assert sim.deliver_due() == 40
    for n in range(20):
        mine = [event["type"] for event in sender.events if event["resource"]["out_trade_no"] == f"t{n}"]
        assert mine == ["payment.succeeded", "refund.succeeded"]


def test_the_queue_survives_a_restart(make_sim, sender):
    first = make_sim()
    api = Api(first)
    api.create("t1")
    api.pay("t1")
    first.close()
    assert sender.calls == []
    second = make_sim()  # same file
    assert Api(second).query("t1").json()["status"] == "SUCCESS"
    assert second.deliver_due() == 1
    assert sender.events[0]["type"] == "payment.succeeded"


def test_two_deliverers_never_send_the_same_row_at_once(make_sim, sender):
    sim = make_sim()
    api = Api(sim)
    for n in range(30):
        api.create(f"t{n}")
        api.pay(f"t{n}")
    threads = [threading.Thread(target=sim.deliver_due) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sender.calls) == 30
    assert len({event["id"] for event in sender.events}) == 30


def test_the_background_notifier_delivers_and_expires(make_sim, sender):
    sim = make_sim(clock=time.time)
    api = Api(sim)
    api.create("t1")
    api.pay("t1")
    sim.start_notifier(interval=0.02)
    try:
        deadline = time.monotonic() + 5
        while not sender.calls and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sim.stop()
    assert sim.notifier.running is False
    assert [event["type"] for event in sender.events] == ["payment.succeeded"]


def test_a_failing_sender_does_not_stop_delivery(make_sim, clock):
    calls = []

    def sender(url, headers, body):
        calls.append(url)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return 204

    sim = make_sim(sender=sender)
    api = Api(sim)
    api.create("t1")
    api.pay("t1")
    assert sim.deliver_due(START) == 1
    assert sim.notifications()[0]["last_error"] == "RuntimeError('boom')"
    assert sim.deliver_due(START + 1) == 1
    assert sim.notifications()[0]["status"] == "delivered"
