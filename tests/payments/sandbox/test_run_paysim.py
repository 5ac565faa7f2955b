"""``manage.py run_paysim`` really starts, listens on a free loopback port and answers."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from payments.sandbox import signed_headers

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def server(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, "manage.py", "run_paysim", "--port", "0", "--db", str(tmp_path / "standalone.sqlite3"),
         "--faults", json.dumps({"seed": 1})],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("Paysim listening on ") or not line:
                break
        assert line.startswith("Paysim listening on "), line
        yield process, line.split()[3].rstrip("/")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def test_run_paysim_serves_healthz_and_a_signed_create(server):
    process, url = server
    assert url.startswith("http://127.0.0.1:")
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/healthz").text == "ok"
        body = json.dumps({"out_trade_no": "s1", "amount": 4500, "description": "SH001 #1",
                           "notify_url": "http://127.0.0.1:9/notify"})
        headers = signed_headers("wx-sandbox-mch", "sandbox-wechat-key-change-me", "POST", "/v1/payments", body)
        response = client.post("/v1/payments", content=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["pay_url"].startswith(f"{url}/pay/")
        assert client.post("/_sim/pay/s1").json()["status"] == "SUCCESS"
        assert client.get("/_sim/config").json()["seed"] == 1
    process.terminate()
    assert process.wait(timeout=10) == 0
    assert "Stopping the payment sandbox." in process.stdout.read()
