"""Benchmark: orders per second through gunicorn against PostgreSQL's own ceiling for an order.

    .venv/bin/python bench/order_submit.py [--duration 15] [--warmup 3] [--clients 8,32] [--workers 5]

Creates its own database (``bench_orders``, dropped and created again on every run, dropped at
the end unless ``--keep-db``) on the PostgreSQL server of ``DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432; its database name is ignored), migrates it with the
production settings, seeds one brand, one open pickup store, four dishes with 10,000,000 portions
of stock and ``--customers`` customers with API tokens, and starts gunicorn on a free loopback port.
At each concurrency it first measures the raw ceiling, pgbench running ``bench/order_submit.sql``
(the writes of one order in plain SQL), then the product: threads with keep-alive HTTP connections
POST two-line pickup orders to ``/api/v1/orders/``, each with a customer token and a fresh
``Idempotency-Key``. It prints orders/s, p50/p90/p99 latency, errors by status, the ceiling and
the ratio, against the target at 32 clients: 20 % of the ceiling or more, p99 under 150 ms.
A benchmark that prints figures, not a test: it asserts nothing and pytest never collects it.
"""

import argparse
import http.client
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections import Counter
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from _common import percentile  # noqa: E402  (bench/ is the script's folder on sys.path)

SQL_SCRIPT = ROOT / "bench" / "order_submit.sql"
DEFAULT_SERVER_URL = "postgres://postgres@127.0.0.1:5432"
DEFAULT_DATABASE = "bench_orders"
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/13"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
STORE_CODE = "BENCHORD"
PGBENCH_CHAIN = "pgbench-orders"  # the pgbench script's own audit chain (no colon: pgbench variables)
STOCK = 10_000_000
TARGET_RATIO = 0.20
TARGET_P99_MS = 150.0
TARGET_CLIENTS = 32
ORDERS_URL = "/api/v1/orders/"


def parse_args() -> argparse.Namespace:
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15.0, help="timed seconds per run (default 15)")
    parser.add_argument("--warmup", type=float, default=3.0, help="untimed seconds before each run (default 3)")
    parser.add_argument("--clients", default="8,32", help="comma-separated concurrencies (default 8,32)")
    parser.add_argument(
        "--workers", type=int, default=2 * cores + 1, help=f"gunicorn workers (default 2 x CPUs + 1 = {2 * cores + 1})"
    )
    parser.add_argument(
        "--worker-class", default="sync", choices=["sync", "gthread"], help="gunicorn worker class (default sync)"
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (gthread only; default 1)")
    parser.add_argument(
        "--customers", type=int, default=5000,
        help="customers with tokens, used round-robin so the 30 orders/min per customer throttle never answers "
        "(default 5000)",
    )
    parser.add_argument(
        "--cache-url", default=DEFAULT_CACHE_URL,
        help=f"CACHE_URL of the site (default {DEFAULT_CACHE_URL}, the shared cache production recommends; "
        "locmemcache:// for one per process)",
    )
    parser.add_argument("--database", default=DEFAULT_DATABASE, help=f"database name (default {DEFAULT_DATABASE})")
    parser.add_argument("--keep-db", action="store_true", help="leave the database behind for a look afterwards")
    args = parser.parse_args()
    try:
        args.client_counts = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error("--clients takes numbers separated by commas, e.g. 8,32")
    if not args.client_counts or min(args.client_counts) < 1 or max(args.client_counts) > 64:
        parser.error("--clients: each concurrency between 1 and 64")
    if not args.database.startswith("bench_"):
        parser.error("--database must start with bench_ (the benchmark drops it)")
    if not 1 <= args.duration <= 600 or not 0 <= args.warmup <= 60:
        parser.error("--duration between 1 and 600 seconds, --warmup between 0 and 60")
    if not 1 <= args.workers <= 64 or not 1 <= args.threads <= 64:
        parser.error("--workers and --threads between 1 and 64")
    if not 1 <= args.customers <= 100_000:
        parser.error("--customers between 1 and 100000")
    return args


# --- The database ---


@dataclass(frozen=True)
class Server:
    """The PostgreSQL server of DATABASE_URL, without its database name."""

    scheme: str
    host: str
    port: int
    user: str
    password: str

    @classmethod
    def from_env(cls) -> "Server":
        parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_SERVER_URL)
        if not parts.scheme.startswith("postgres"):
            raise SystemExit(f"DATABASE_URL must be a PostgreSQL URL, not {parts.scheme}://")
        host = parts.hostname or "127.0.0.1"
        if host not in LOOPBACK:
            raise SystemExit(f"the benchmark drops and creates databases: it only runs on loopback, not {host}")
        return cls(parts.scheme, host, parts.port or 5432, unquote(parts.username or "postgres"),
                   unquote(parts.password or ""))

    def url(self, database: str) -> str:
        auth = self.user + (f":{self.password}" if self.password else "")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{auth}@{host}:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=self.user, password=self.password or None,
                               dbname=database, autocommit=True)


def recreate_database(server: Server, name: str) -> None:
    from psycopg import sql

    with server.connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(server: Server, name: str) -> None:
    from psycopg import sql

    with server.connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def site_environment(database_url: str, cache_url: str) -> dict[str, str]:
    """The production settings, with what only a loopback benchmark may change.

    HTTPS redirect off (no TLS on loopback) and no trusted proxy (the client is REMOTE_ADDR);
    everything else as deployed: DEBUG off, CONN_MAX_AGE 60, the shared cache, the throttles.
    """
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database_url,
        "CACHE_URL": cache_url,
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "TRUSTED_PROXY_COUNT": "0",
        "DJANGO_READ_DOT_ENV_FILE": "false",
        "LOG_LEVEL": "WARNING",
    })
    return env


@dataclass
class Seeded:
    brand_id: int
    store_id: int
    dishes: list[int]  # the two dishes of every order, in id order
    overrides: list[int]  # their override rows
    customer_ids: list[int]
    tokens: list[str]


def seed(customers: int) -> Seeded:
    """One brand, one open pickup store, four dishes with a large stock, customers with tokens."""
    from datetime import time as clock
    from decimal import Decimal

    from django.db import connection, transaction
    from rest_framework.authtoken.models import Token

    from accounts.models import User
    from audit.models import AuditChain
    from stores.models import Brand, Dish, MenuCategory, OpeningHours, Store, StoreDishOverride

    with transaction.atomic():
        brand = Brand.objects.create(code="bench-orders", name="基准下单")
        store = Store.objects.create(
            brand=brand, code=STORE_CODE, name="基准下单门店", city="上海", district="黄浦区",
            address="南京东路 1 号", latitude=Decimal("31.230416"), longitude=Decimal("121.473701"),
            offers_pickup=True, offers_delivery=False, offers_dine_in=False, is_open=True,
        )
        # 00:00-00:00 runs past midnight: open all day, every day, with the hours check still made.
        OpeningHours.objects.bulk_create(
            OpeningHours(brand=brand, store=store, weekday=day, opens=clock(0, 0), closes=clock(0, 0))
            for day in range(7)
        )
        category = MenuCategory.objects.create(brand=brand, code="mains", name_zh="主食", name_en="Mains")
        dishes = [
            Dish.objects.create(brand=brand, category=category, code=code, name_zh=zh, name_en=en,
                                price=Decimal(price), kcal=kcal, sort_order=i)
            for i, (code, zh, en, price, kcal) in enumerate([
                ("BO1", "牛肉面", "Beef noodles", "18.00", 650),
                ("BO2", "水饺", "Dumplings", "12.50", 420),
                ("BO3", "茶", "Tea", "6.00", 0),
                ("BO4", "汤", "Soup", "8.00", 120),
            ])
        ]
        overrides = [
            StoreDishOverride.objects.create(brand=brand, store=store, dish=dish, stock=STOCK, daily_stock=STOCK)
            for dish in dishes
        ]
        users = User.objects.bulk_create(
            User(phone=f"139{i:08d}", name=f"顾客{i}", password=f"!{secrets.token_hex(20)}")
            for i in range(1, customers + 1)
        )
        tokens = Token.objects.bulk_create(Token(key=secrets.token_hex(20), user=user) for user in users)
        AuditChain.objects.create(key=PGBENCH_CHAIN)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # planner statistics, as autovacuum keeps them in production
    return Seeded(
        brand_id=brand.pk, store_id=store.pk, dishes=[dishes[0].pk, dishes[1].pk],
        overrides=[overrides[0].pk, overrides[1].pk], customer_ids=[u.pk for u in users],
        tokens=[t.key for t in tokens],
    )


def order_body(seeded: Seeded) -> bytes:
    return json.dumps({
        "store": STORE_CODE,
        "fulfilment": "pickup",
        "lines": [{"dish": seeded.dishes[0], "quantity": 1}, {"dish": seeded.dishes[1], "quantity": 2}],
    }).encode()


def clear_throttles(customer_ids: list[int]) -> None:
    """Forget earlier runs' order counts of these customer ids in the shared cache (only those keys)."""
    from django.core.cache import cache

    cache.delete_many([f"throttle_order_create_{pk}" for pk in customer_ids])


def queries_per_order(seeded: Seeded) -> tuple[int, Counter, int]:
    """SQL statements of one order submit, in-process through Django's test client (after a first one)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")

    def submit(token: str):
        return client.post(
            ORDERS_URL, data=order_body(seeded), content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {token}", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )

    submit(seeded.tokens[0])  # the first request of a process also creates the brand's audit chain
    with CaptureQueriesContext(connection) as queries:
        response = submit(seeded.tokens[1 % len(seeded.tokens)])
    kinds = Counter(q["sql"].split(None, 1)[0].upper() for q in queries.captured_queries)
    return len(queries), kinds, response.status_code


# --- gunicorn ---


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(args, port: int, env: dict[str, str], log) -> subprocess.Popen:
    binary = Path(sys.executable).with_name("gunicorn")
    gunicorn = str(binary) if binary.exists() else shutil.which("gunicorn")
    if gunicorn is None:
        raise SystemExit("gunicorn not found next to this Python nor on PATH")
    cmd = [
        gunicorn, "config.wsgi:application", "--chdir", str(ROOT), "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.workers), "--worker-class", args.worker_class, "--backlog", "2048",
        "--timeout", "60", "--graceful-timeout", "5", "--log-level", "warning",
    ]
    if args.worker_class == "gthread":
        cmd += ["--threads", str(args.threads)]
    # Its own session: Ctrl-C reaches the benchmark, which then stops gunicorn itself.
    return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_gunicorn(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def wait_until_up(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz/")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer /healthz/ within {timeout:.0f} s")


# --- CPU time per order (from /proc: the figures that other work on the machine skews least) ---

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class CpuSampler:
    """CPU seconds used by gunicorn's workers and by this database's PostgreSQL backends.

    A thread reads /proc every 0.2 s; each process counts from its first to its last sample, so
    a backend that exits loses at most its last 0.2 s. Zero everywhere but Linux.
    """

    def __init__(self, gunicorn_pid: int, database: str):
        self.gunicorn_pid, self.marker = gunicorn_pid, f" {database} ".encode()
        self.first: dict[int, tuple[str, int]] = {}
        self.last: dict[int, int] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="cpu-sampler")

    def __enter__(self) -> "CpuSampler":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._sample()
        self.thread.start()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        self._sample()

    def seconds(self, kind: str) -> float:
        ticks = sum(self.last[pid] - first for pid, (k, first) in self.first.items() if k == kind)
        return ticks / CLOCK_TICKS

    def _run(self) -> None:
        while not self.stopped.is_set():
            self._sample()
            self.stopped.wait(0.2)

    def _sample(self) -> None:
        for entry in glob("/proc/[0-9]*"):
            try:
                with open(f"{entry}/stat", "rb") as stat:
                    fields = stat.read().rsplit(b")", 1)[1].split()
                ppid, ticks = int(fields[1]), int(fields[11]) + int(fields[12])
                kind = "gunicorn" if ppid == self.gunicorn_pid else self._postgres_kind(entry)
                if kind is None:
                    continue
            except (OSError, ValueError, IndexError):
                continue
            pid = int(entry.rsplit("/", 1)[1])
            self.first.setdefault(pid, (kind, ticks))
            self.last[pid] = ticks

    def _postgres_kind(self, entry: str) -> str | None:
        with open(f"{entry}/cmdline", "rb") as cmdline:
            text = cmdline.read()
        return "postgres" if text.startswith(b"postgres:") and self.marker in text else None


# --- The load client ---


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)  # of the 201s completed in the window
    statuses: Counter = field(default_factory=Counter)  # every answer completed in the window
    samples: dict = field(default_factory=dict)  # status -> first body seen
    answered: int = 0  # answers completed from the start of the timed window on (for CPU per order)
    cpu: dict = field(default_factory=dict)  # "gunicorn", "postgres", "client" -> CPU seconds from then on

    @property
    def orders_per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 201)


def run_load(port: int, clients: int, warmup: float, duration: float, tokens: list[str], body: bytes,
             stop: threading.Event, cpu: "CpuSampler") -> LoadResult:
    """``clients`` threads, each with one keep-alive connection, submitting orders back to back.

    ``cpu`` starts sampling when the timed window opens (the warm-up also warms the workers up).
    """
    result = LoadResult(clients=clients, seconds=duration)
    lock = threading.Lock()
    customers = itertools.count()  # round-robin over the customers, shared by the threads
    ready = threading.Barrier(clients + 1)
    window = {}

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        latencies, statuses, samples, answered = [], Counter(), {}, 0
        ready.wait()
        start, end = window["start"], window["end"]
        while not stop.is_set():
            sent = time.perf_counter()
            if sent >= end:
                break
            token = tokens[next(customers) % len(tokens)]
            headers = {
                "Authorization": f"Token {token}", "Idempotency-Key": uuid.uuid4().hex,
                "Content-Type": "application/json", "Accept": "application/json",
            }
            try:
                conn.request("POST", ORDERS_URL, body=body, headers=headers)
                response = conn.getresponse()
                content = response.read()
                status = response.status
                if response.will_close:
                    conn.close()  # sync workers answer "Connection: close"; the next request reconnects
            except (OSError, http.client.HTTPException) as exc:
                status, content = type(exc).__name__, str(exc).encode()
                conn.close()
            done = time.perf_counter()
            answered += done >= start
            if start <= done <= end:
                statuses[status] += 1
                if status == 201:
                    latencies.append((done - sent) * 1000)
                elif status not in samples:
                    samples[status] = content[:300]
        conn.close()
        with lock:
            result.latencies_ms.extend(latencies)
            result.statuses.update(statuses)
            result.answered += answered
            for status, content in samples.items():
                result.samples.setdefault(status, content)

    threads = [threading.Thread(target=client, daemon=True, name=f"client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    window["start"], window["end"] = now + warmup, now + warmup + duration
    ready.wait()
    stop.wait(max(0.0, window["start"] - time.perf_counter()))
    client_cpu = time.process_time()
    cpu.start()
    for thread in threads:
        thread.join()
    cpu.stop()
    result.cpu = {"gunicorn": cpu.seconds("gunicorn"), "postgres": cpu.seconds("postgres"),
                  "client": time.process_time() - client_cpu}
    result.latencies_ms.sort()
    return result


# --- pgbench ---


@dataclass
class CeilingResult:
    clients: int
    tps: float | None
    failed: int = 0
    transactions: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    cpu_postgres: float = 0.0  # CPU seconds of the database's backends during the timed run
    error: str = ""


def find_pgbench() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(glob("/usr/lib/postgresql/*/bin/pgbench"), key=lambda p: int(p.split("/")[4]))
    return candidates[-1] if candidates else None


def run_pgbench(pgbench: str, server: Server, database: str, clients: int, seconds: float,
                variables: dict[str, object], log_dir: Path | None = None) -> CeilingResult:
    cmd = [
        pgbench, "--no-vacuum", "--client", str(clients), "--jobs", str(min(2, clients)),
        "--time", str(max(1, round(seconds))), "--file", str(SQL_SCRIPT),
        "--host", server.host, "--port", str(server.port), "--username", server.user,
    ]
    for name, value in variables.items():
        cmd += ["--define", f"{name}={value}"]
    if log_dir is not None:
        cmd += ["--log", f"--log-prefix={log_dir / 'tx'}"]
    cmd.append(database)
    env = dict(os.environ)
    if server.password:
        env["PGPASSWORD"] = server.password
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=log_dir or ROOT,
                          timeout=seconds + 60, check=False)
    tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", done.stdout, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", done.stdout, re.M)
    processed = re.search(r"^number of transactions actually processed: (\d+)", done.stdout, re.M)
    result = CeilingResult(clients=clients, tps=float(tps.group(1)) if tps else None,
                           failed=int(failed.group(1)) if failed else 0,
                           transactions=int(processed.group(1)) if processed else 0)
    if done.returncode != 0 or tps is None:
        result.error = (done.stderr.strip() or done.stdout.strip())[-600:]
    if log_dir is not None:
        # One line per transaction: client_id transaction_no time_us script_no epoch epoch_us.
        for path in glob(str(log_dir / "tx.*")):
            with open(path) as log:
                result.latencies_ms.extend(int(line.split()[2]) / 1000 for line in log if line.strip())
            os.unlink(path)
        result.latencies_ms.sort()
    return result


# --- Report ---


def postgres_version(server: Server) -> str:
    with server.connect() as conn:
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


def main() -> int:
    args = parse_args()
    server = Server.from_env()
    pgbench = find_pgbench()
    if pgbench is None:
        print("pgbench not found (Debian: apt-get install postgresql-client)", file=sys.stderr)
        return 1
    with tempfile.TemporaryFile("w+", prefix="bench-gunicorn-") as log:
        return run(args, server, pgbench, log)


def run(args: argparse.Namespace, server: Server, pgbench: str, log) -> int:
    """Create and seed the database, start gunicorn, measure, print; always stop and clean up."""
    env = site_environment(server.url(args.database), args.cache_url)
    os.environ.update(env)  # the same settings in this process (migrate, seed) as in gunicorn
    stop = threading.Event()
    gunicorn = None

    def terminate(signum, frame):  # kill <pid>: leave through the finally below
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even when started in the background
    recreate_database(server, args.database)
    try:
        import django

        # WhiteNoise warns that STATIC_ROOT was never collected: the API serves no static files.
        warnings.filterwarnings("ignore", message="No directory at")
        django.setup()
        from django.core.management import call_command
        from django.db import connections

        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        seeded = seed(args.customers)
        clear_throttles(seeded.customer_ids)
        query_count, query_kinds, status = queries_per_order(seeded)
        ready_in = time.perf_counter() - started
        if status != 201:
            print(f"warning: the in-process order answered {status}, not 201", file=sys.stderr)
        connections.close_all()

        port = free_port()
        gunicorn = start_gunicorn(args, port, env, log)
        wait_until_up(port, gunicorn)
        body = order_body(seeded)
        variables = {
            "store_id": seeded.store_id, "brand_id": seeded.brand_id,
            "ovr_a": seeded.overrides[0], "ovr_b": seeded.overrides[1],
            "dish_a": seeded.dishes[0], "dish_b": seeded.dishes[1],
            "customer_lo": min(seeded.customer_ids), "customer_hi": max(seeded.customer_ids),
            "chain": PGBENCH_CHAIN,
        }
        rows = []
        for clients in args.client_counts:
            print(f"  {clients} clients: pgbench ...", file=sys.stderr, flush=True)
            if args.warmup >= 1:
                run_pgbench(pgbench, server, args.database, clients, args.warmup, variables)
            with tempfile.TemporaryDirectory(prefix="bench-pgbench-") as log_dir, \
                    CpuSampler(gunicorn.pid, args.database) as cpu:
                ceiling = run_pgbench(pgbench, server, args.database, clients, args.duration, variables,
                                      Path(log_dir))
            ceiling.cpu_postgres = cpu.seconds("postgres")
            if ceiling.error:
                print(f"pgbench at {clients} clients failed: {ceiling.error}", file=sys.stderr)
            print(f"  {clients} clients: HTTP ...", file=sys.stderr, flush=True)
            load = run_load(port, clients, args.warmup, args.duration, seeded.tokens, body, stop,
                            CpuSampler(gunicorn.pid, args.database))
            if gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn exited with status {gunicorn.returncode} during the run")
            rows.append((load, ceiling))

        threads = f" x {args.threads} threads" if args.worker_class == "gthread" else ""
        print(f"order submit benchmark  POST {ORDERS_URL}  (PostgreSQL {postgres_version(server)}, "
              f"database {args.database})")
        print(f"  server                gunicorn {args.worker_class}, {args.workers} workers{threads}, "
              f"config.settings.production (HTTPS redirect off, no proxy), cache {args.cache_url}")
        kinds = ", ".join(f"{n} {kind}" for kind, n in query_kinds.most_common())
        print(f"  SQL statements/order  {query_count} ({kinds}; one in-process request)")
        print(f"  order                 pickup, 2 lines (1 + 2 portions), {args.customers} customers round-robin; "
              f"data ready in {ready_in:.1f} s")
        print(f"  each run              {args.duration:g} s timed after {args.warmup:g} s warm-up; "
              f"ceiling: pgbench -f bench/order_submit.sql, the same writes in plain SQL")
        print()
        print(f"  {'clients':>7}  {'orders/s':>9}  {'p50 ms':>7}  {'p90 ms':>7}  {'p99 ms':>7}  {'errors':>6}"
              f"  |  {'ceiling tps':>11}  {'p50 ms':>7}  {'p99 ms':>7}  {'ratio':>7}")
        for load, ceiling in rows:
            lat = load.latencies_ms
            ratio = f"{load.orders_per_second / ceiling.tps:6.1%}" if ceiling.tps else "    n/a"
            tps = f"{ceiling.tps:11.1f}" if ceiling.tps else f"{'failed':>11}"
            print(f"  {load.clients:>7}  {load.orders_per_second:9.1f}  {percentile(lat, 50):7.1f}  "
                  f"{percentile(lat, 90):7.1f}  {percentile(lat, 99):7.1f}  {load.errors:>6}  |  {tps}  "
                  f"{percentile(ceiling.latencies_ms, 50):7.1f}  {percentile(ceiling.latencies_ms, 99):7.1f}  "
                  f"{ratio:>7}")
        for load, ceiling in rows:
            for status, n in sorted(load.statuses.items(), key=lambda item: str(item[0])):
                if status != 201:
                    sample = load.samples.get(status, b"").decode(errors="replace")
                    print(f"  errors at {load.clients} clients: {n} x {status}  {sample[:200]}")
            if ceiling.failed:
                print(f"  pgbench at {ceiling.clients} clients: {ceiling.failed} failed transactions")
        print()
        print(f"  CPU ms per order      {'clients':>7}  {'gunicorn':>8}  {'PostgreSQL':>10}  {'client':>6}  |  "
              f"{'pgbench: PostgreSQL':>19}")
        for load, ceiling in rows:
            per = {k: v * 1000 / load.answered if load.answered else float("nan") for k, v in load.cpu.items()}
            raw = ceiling.cpu_postgres * 1000 / ceiling.transactions if ceiling.transactions else float("nan")
            print(f"  {'':20}  {load.clients:>7}  {per['gunicorn']:8.2f}  {per['postgres']:10.2f}  "
                  f"{per['client']:6.2f}  |  {raw:19.2f}")
        print()
        load_avg = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"  load average          {load_avg} on {os.cpu_count()} CPUs, shared by PostgreSQL, gunicorn, "
              "the load client and pgbench (other work skews the figures)")
        target = next((row for row in rows if row[0].clients == TARGET_CLIENTS), None)
        if target is None:
            print(f"  targets are set at {TARGET_CLIENTS} clients; run with --clients including {TARGET_CLIENTS}")
        else:
            load, ceiling = target
            ratio = load.orders_per_second / ceiling.tps if ceiling.tps else None
            p99 = percentile(load.latencies_ms, 99)
            ratio_verdict = "n/a (no ceiling)" if ratio is None else (
                f"{'meets' if ratio >= TARGET_RATIO else 'MISSES'} ({ratio:.1%})"
            )
            p99_verdict = f"{'meets' if p99 < TARGET_P99_MS else 'MISSES'} ({p99:.1f} ms)"
            print(f"  target at {TARGET_CLIENTS} clients: orders/s >= {TARGET_RATIO:.0%} of the ceiling: "
                  f"{ratio_verdict}; p99 < {TARGET_P99_MS:.0f} ms: {p99_verdict}")
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RuntimeError as exc:
        log.flush()
        log.seek(0)
        print(f"error: {exc}\n--- gunicorn log (last lines) ---\n{''.join(log.readlines()[-30:])}", file=sys.stderr)
        return 1
    finally:
        stop.set()
        stop_gunicorn(gunicorn)
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if args.keep_db:
            print(f"  database {args.database} kept: {server.url(args.database)}")
        else:
            drop_database(server, args.database)


if __name__ == "__main__":
    sys.exit(main())
