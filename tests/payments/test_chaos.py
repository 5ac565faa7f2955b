"""The chaos test (small): orders paid through the sandbox running as its own process, with 20 %
errors, 10 % dropped, 10 % duplicated and 5 % out-of-order notifications, random latency and a few
timeouts. When everything has settled: every order paid exactly once or not at all, nothing stuck,
the sandbox's money equal to ours, reconciliation without unexplained mismatches.
``bench/chaos_payments.py`` runs the same with 2,000 orders."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from payments.sandbox.chaos import DEFAULT_FAULTS, measure, pay_orders, seed_world, settle

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def paysim_process(tmp_path, settings, live_server):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    faults = {**DEFAULT_FAULTS, "timeout_rate": 0.02, "timeout_seconds": 1.5, "seed": 11}
    log = open(tmp_path / "paysim.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        [sys.executable, "manage.py", "run_paysim", "--port", str(port), "--db", str(tmp_path / "paysim.sqlite3"),
         "--faults", json.dumps(faults), "--public-url", url],
        cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}, stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (tmp_path / "paysim.log").read_text()
            assert time.monotonic() < deadline, "the sandbox did not start"
            time.sleep(0.2)
        settings.PAYMENT_GATEWAYS = {
            channel: {**conf, "base_url": url, "timeout": 1.0,
                      "notify_url": f"{live_server.url}/api/v1/payments/notify/{channel}/"}
            for channel, conf in settings.PAYMENT_GATEWAYS.items()
        }
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_payments_survive_a_misbehaving_provider(paysim_process):
    world = seed_world(customers=6)
    first_day = timezone.localdate()
    paying = pay_orders(world, orders=40, threads=4, sim_url=paysim_process, seed=5, second_share=0.15)
    settling, rounds = settle(sim_url=paysim_process, timeout=120)
    report = measure(world, days=sorted({first_day, timezone.localdate()}))
    report.paying_seconds, report.settling_seconds, report.settle_rounds = paying, settling, rounds
    summary = "\n".join(report.lines())
    print(summary)  # shown with pytest -s
    assert report.ok, summary
    assert report.orders == 40
    assert report.paid >= 20, summary  # most payers confirm; some walk away or meet an error
    assert report.sandbox_captured > 0
