"""Delivery of the sandbox's notifications: signed POSTs, retried with back-off until a 2xx.

The queue is the ``notifications`` table, so a restart resumes delivery. A send is claimed first
(its ``due_at`` pushed ``LEASE_SECONDS`` ahead and ``attempts`` counted) and then made outside the
database lock, so two deliverers (the background thread and a test calling ``deliver_due``, or two
processes on one file) never send the same row twice at once, and a crash mid-send only delays it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from .signing import new_nonce, sign

logger = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 5.0
LEASE_SECONDS = 30.0
MAX_ATTEMPTS = 12
MAX_BACKOFF_SECONDS = 60.0
BATCH = 64
MAX_BATCHES = 100


def backoff_seconds(attempts: int, scale: float) -> float:
    """Delay after the ``attempts``-th failed send: 1, 2, 4 ... 60 s, times ``scale``."""
    return min(2.0 ** (attempts - 1), MAX_BACKOFF_SECONDS) * scale


class HttpxSender:
    """The default sender: POST with a 5 s timeout; the status code, or None when there was no answer."""

    def __init__(self, timeout: float = SEND_TIMEOUT_SECONDS):
        self.timeout = timeout
        self._client = None
        self._lock = threading.Lock()

    def __call__(self, url: str, headers: dict, body: bytes) -> int | None:
        import httpx

        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout, follow_redirects=False)
            client = self._client
        try:
            return client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            logger.info("paysim: notification to %s failed: %s", url, exc)
            return None

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class Notifier:
    def __init__(self, sim, *, sender=None, workers: int = 8):
        self.sim = sim
        self.sender = sender or HttpxSender()
        self.workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- one round ---

    def _claim(self, now: float) -> list[dict]:
        with self.sim.store.write() as db:
            rows = db.execute("SELECT id, event_id, mch_id, subject, url, body, attempts FROM notifications"
                              " WHERE status = 'pending' AND due_at <= ? ORDER BY due_at, id LIMIT ?",
                              (now, BATCH)).fetchall()
            if rows:
                db.executemany("UPDATE notifications SET due_at = ?, attempts = attempts + 1 WHERE id = ?",
                               [(now + LEASE_SECONDS, row["id"]) for row in rows])
        return [dict(row, attempts=row["attempts"] + 1) for row in rows]

    def _send(self, row: dict) -> tuple[int | None, str]:
        merchant = self.sim.merchants.get(row["mch_id"])
        if merchant is None:
            return None, "unknown merchant"
        body = row["body"].encode("utf-8")
        timestamp, nonce = str(int(self.sim.wall_time())), new_nonce()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "paysim/1",
            "X-Paysim-Mch": row["mch_id"],
            "X-Paysim-Timestamp": timestamp,
            "X-Paysim-Nonce": nonce,
            "X-Paysim-Signature": sign(merchant["key"], timestamp, nonce, "POST", "notify", row["body"]),
        }
        try:
            status = self.sender(row["url"], headers, body)
        except Exception as exc:  # a broken sender must not stop delivery of the others
            logger.warning("paysim: sender raised for %s: %r", row["url"], exc)
            return None, repr(exc)[:200]
        return (int(status) if status is not None else None), ""

    def _send_group(self, rows: list[dict]) -> list[tuple[int | None, str]]:
        return [self._send(row) for row in rows]

    def _pool_for(self, size: int) -> ThreadPoolExecutor | None:
        if self.workers == 1 or size == 1:
            return None
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="paysim-send")
            return self._pool

    def _record(self, rows: list[dict], results: list[tuple[int | None, str]], now: float) -> None:
        scale = self.sim.faults["notify_backoff_scale"]
        updates_ok, updates_retry, updates_failed = [], [], []
        for row, (status, error) in zip(rows, results, strict=True):
            if status is not None and 200 <= status < 300:
                updates_ok.append((now, status, row["id"]))
            elif row["attempts"] >= MAX_ATTEMPTS:
                updates_failed.append((status, error or f"HTTP {status}", row["id"]))
            else:
                due = now + backoff_seconds(row["attempts"], scale)
                updates_retry.append((due, status, error or f"HTTP {status}", row["id"]))
        with self.sim.store.write() as db:
            db.executemany("UPDATE notifications SET status = 'delivered', delivered_at = ?, last_status = ?,"
                           " last_error = '' WHERE id = ?", updates_ok)
            db.executemany("UPDATE notifications SET due_at = ?, last_status = ?, last_error = ? WHERE id = ?",
                           updates_retry)
            db.executemany("UPDATE notifications SET status = 'failed', last_status = ?, last_error = ?"
                           " WHERE id = ?", updates_failed)

    def deliver_due(self, now: float | None = None) -> int:
        fixed_now = now
        sent = 0
        for _ in range(MAX_BATCHES):
            claim_now = self.sim.now() if fixed_now is None else fixed_now
            rows = self._claim(claim_now)
            if not rows:
                break
            # One trade's events go out one after the other, in order; different trades in parallel.
            groups: dict[tuple, list[dict]] = {}
            for row in rows:
                groups.setdefault((row["mch_id"], row["subject"]), []).append(row)
            pool = self._pool_for(len(groups))
            sent_groups = list(pool.map(self._send_group, groups.values())) if pool else [
                self._send_group(group) for group in groups.values()]
            rows = [row for group in groups.values() for row in group]
            results = [result for group_results in sent_groups for result in group_results]
            self._record(rows, results, self.sim.now() if fixed_now is None else fixed_now)
            sent += len(rows)
        return sent

    # --- the background loop ---

    def start(self, interval: float = 0.1) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(interval,), name="paysim-notifier", daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                self.sim.tick()
            except Exception:  # keep delivering; the next round tries again
                logger.exception("paysim: notifier round failed")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = SEND_TIMEOUT_SECONDS + 2) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
