"""An in-process payment sandbox driven by a fake clock, talked to through httpx.WSGITransport."""

from __future__ import annotations

import json
import threading
from datetime import datetime

import httpx
import pytest

from payments.sandbox import Paysim, signed_headers
from payments.sandbox.sim import SHANGHAI

WX, WX_KEY = "wx-test", "wx-secret"
ALI, ALI_KEY = "ali-test", "ali-secret"
MERCHANTS = {
    WX: {"key": WX_KEY, "name": "WeChat Pay (sandbox)", "channel": "wechat"},
    ALI: {"key": ALI_KEY, "name": "Alipay (sandbox)", "channel": "alipay"},
}
BASE_URL = "http://paysim.test/paysim"
NOTIFY_URL = "http://shop.test/api/v1/payments/notify/wechat/"
RETURN_URL = "http://shop.test/orders/7/?from=pay"
START = datetime(2026, 11, 22, 12, 0, tzinfo=SHANGHAI).timestamp()


class Clock:
    def __init__(self, now: float = START):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


class Sender:
    """Records every notification sent; answers from ``statuses`` (then ``default``)."""

    def __init__(self):
        self.calls: list[tuple[str, dict, bytes]] = []
        self.statuses: list[int | None] = []
        self.default = 200
        self._lock = threading.Lock()

    def __call__(self, url, headers, body):
        with self._lock:
            self.calls.append((url, headers, body))
            return self.statuses.pop(0) if self.statuses else self.default

    @property
    def events(self) -> list[dict]:
        return [json.loads(body) for _url, _headers, body in self.calls]


class Api:
    """A signed merchant client plus unsigned access to the payer page and /_sim."""

    def __init__(self, sim: Paysim, mch_id: str = WX, key: str = WX_KEY):
        self.sim, self.mch_id, self.key = sim, mch_id, key
        self.http = httpx.Client(transport=httpx.WSGITransport(app=sim.wsgi_app), base_url=BASE_URL)

    def call(self, method: str, path: str, body=None, *, mch_id=None, key=None, raw: bytes | None = None,
             timestamp=None) -> httpx.Response:
        content = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        text = content.decode("utf-8", "replace")
        headers = signed_headers(mch_id or self.mch_id, key or self.key, method, path, text, timestamp=timestamp)
        return self.http.request(method, path, content=content or None, headers=headers)

    def create(self, out_trade_no="t1", amount=4500, **extra) -> httpx.Response:
        body = {"out_trade_no": out_trade_no, "amount": amount, "description": "SH001 #12",
                "notify_url": NOTIFY_URL, "return_url": RETURN_URL, **extra}
        return self.call("POST", "/v1/payments", body)

    def query(self, out_trade_no="t1") -> httpx.Response:
        return self.call("GET", f"/v1/payments/{out_trade_no}")

    def pay(self, out_trade_no="t1") -> dict:
        response = self.http.post(f"/_sim/pay/{out_trade_no}", params={"mch": self.mch_id})
        assert response.status_code == 200, response.text
        return response.json()

    def refund(self, out_refund_no="r1", amount=1000, out_trade_no="t1", **extra) -> httpx.Response:
        body = {"out_trade_no": out_trade_no, "out_refund_no": out_refund_no, "amount": amount,
                "reason": "customer asked", **extra}
        return self.call("POST", "/v1/refunds", body)

    def configure(self, **changes) -> httpx.Response:
        return self.http.post("/_sim/config", json=changes)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def sender():
    return Sender()


@pytest.fixture
def make_sim(tmp_path, clock, sender):
    made = []

    def make(faults=None, *, db="paysim.sqlite3", **kwargs):
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("sender", sender)
        kwargs.setdefault("sleep", lambda seconds: None)
        kwargs.setdefault("notify_workers", 1)
        sim = Paysim(tmp_path / db, MERCHANTS, faults or {}, public_base_url=BASE_URL, **kwargs)
        made.append(sim)
        return sim

    yield make
    for sim in made:
        sim.close()


@pytest.fixture
def sim(make_sim):
    return make_sim()


@pytest.fixture
def api(sim):
    return Api(sim)


@pytest.fixture
def ali(sim):
    return Api(sim, ALI, ALI_KEY)
