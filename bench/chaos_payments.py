"""Benchmark: 2,000 orders paid through a misbehaving payment provider, then the books compared.

    .venv/bin/python bench/chaos_payments.py [--orders 2000] [--threads 16] [--workers 3]

Creates its own database (``bench_chaos``, dropped and created again on every run, dropped at the
end unless ``--keep-db``) on the PostgreSQL server of ``DATABASE_URL`` (loopback only), migrates
it with the production settings and starts, on free loopback ports:

- the payment sandbox as its own process (``manage.py run_paysim``) with 20 % errors, 10 % dropped,
  10 % duplicated and 5 % out-of-order notifications, random latency and 2 % timeouts;
- the site under gunicorn, which receives the sandbox's notifications.

This process then plays the customers and the periodic tasks (``payments/sandbox/chaos.py``):
every order is paid with WeChat Pay or Alipay, most payers confirm, some walk away, a few pay a
second time with the other channel; then payments are polled and closed, refunds asked about and
unpaid orders expired until nothing is left to settle. It prints: orders paid exactly once or not
at all, payments stuck, the sandbox's captures minus refunds against ours, and the day's
reconciliation. A benchmark that prints figures; it asserts nothing and pytest never collects it.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from order_submit import (  # noqa: E402 - bench/ is not a package
    Server,
    drop_database,
    free_port,
    recreate_database,
    site_environment,
    stop_gunicorn,
    wait_until_up,
)

DEFAULT_DATABASE = "bench_chaos"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2000, help="orders to pay (default 2000)")
    parser.add_argument("--threads", type=int, default=16, help="customers paying at once (default 16)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers receiving notifications")
    parser.add_argument("--seed", type=int, default=2026, help="random seed of payers and faults")
    parser.add_argument("--database", default=DEFAULT_DATABASE, help=f"database name (default {DEFAULT_DATABASE})")
    parser.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    parser.add_argument("--settle-timeout", type=float, default=600.0, help="seconds allowed for settling")
    return parser.parse_args()


def start_paysim(port: int, db_path: str, faults: dict, env: dict, log) -> subprocess.Popen:
    url = f"http://127.0.0.1:{port}"
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_paysim", "--port", str(port), "--db", db_path,
         "--faults", json.dumps(faults), "--public-url", url],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def wait_for_paysim(url: str, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the sandbox exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the sandbox did not start")


def start_site(workers: int, port: int, env: dict, log) -> subprocess.Popen:
    binary = Path(sys.executable).with_name("gunicorn")
    return subprocess.Popen(
        [str(binary), "config.wsgi:application", "--chdir", str(ROOT), "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--timeout", "60", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def main() -> int:
    args = parse_args()
    server = Server.from_env()
    site_port, sim_port = free_port(), free_port()
    sim_url = f"http://127.0.0.1:{sim_port}"
    site_url = f"http://127.0.0.1:{site_port}"
    env = site_environment(server.url(args.database), "locmemcache://")
    env.update({
        "SITE_URL": site_url,
        "WECHAT_PAY_BASE_URL": sim_url, "ALIPAY_BASE_URL": sim_url,
        "WECHAT_PAY_NOTIFY_URL": f"{site_url}/api/v1/payments/notify/wechat/",
        "ALIPAY_NOTIFY_URL": f"{site_url}/api/v1/payments/notify/alipay/",
        "PAYMENT_GATEWAY_TIMEOUT": "1.0",
    })
    os.environ.update(env)  # the same settings here (migrate, customers, tasks) as in gunicorn

    def terminate(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    recreate_database(server, args.database)
    site = paysim = None
    with tempfile.TemporaryDirectory(prefix="bench-chaos-") as work, \
            open(Path(work) / "site.log", "w") as site_log, open(Path(work) / "paysim.log", "w") as sim_log:
        try:
            import django

            warnings.filterwarnings("ignore", message="No directory at")
            django.setup()
            import logging

            # Each "no answer from wechat" is expected here (a fifth of all calls fail): keep the
            # figures readable.
            logging.getLogger("payments").setLevel(logging.ERROR)
            from django.core.management import call_command
            from django.db import connections
            from django.utils import timezone

            from payments.sandbox.chaos import DEFAULT_FAULTS, measure, pay_orders, seed_world, settle

            call_command("migrate", verbosity=0, interactive=False)
            world = seed_world(customers=100)
            connections.close_all()
            faults = {**DEFAULT_FAULTS, "timeout_rate": 0.02, "timeout_seconds": 1.5, "seed": args.seed}
            paysim = start_paysim(sim_port, str(Path(work) / "paysim.sqlite3"), faults, env, sim_log)
            site = start_site(args.workers, site_port, env, site_log)
            wait_for_paysim(sim_url, paysim)
            wait_until_up(site_port, site)
            print(f"paying {args.orders} orders with {args.threads} customers at a time; faults {faults}",
                  file=sys.stderr, flush=True)
            first_day = timezone.localdate()
            paying = pay_orders(world, orders=args.orders, threads=args.threads, sim_url=sim_url, seed=args.seed)
            print(f"paid in {paying:.1f} s; settling ...", file=sys.stderr, flush=True)
            settling, rounds = settle(sim_url=sim_url, timeout=args.settle_timeout)
            report = measure(world, days=sorted({first_day, timezone.localdate()}))
            report.paying_seconds, report.settling_seconds, report.settle_rounds = paying, settling, rounds
            summary = httpx.get(f"{sim_url}/_sim/summary", timeout=10).json()
            print()
            print(f"Payments chaos run: {args.orders} orders, {args.threads} paying at once")
            for line in report.lines():
                print("  " + line)
            print("  sandbox notifications:", json.dumps(
                {mch: m.get("notifications") for mch, m in (summary.get("merchants") or {}).items()},
                ensure_ascii=False))
            connections.close_all()
            return 0 if report.ok else 1
        finally:
            stop_gunicorn(site)
            stop_gunicorn(paysim)
            if not args.keep_db:
                drop_database(server, args.database)


if __name__ == "__main__":
    sys.exit(main())
