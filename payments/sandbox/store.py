"""The sandbox's own storage: one SQLite file (stdlib sqlite3, WAL), never our database.

One connection per ``Store``, shared by all threads behind one re-entrant lock: every sandbox
operation is a handful of indexed statements, so serialising them costs less than the
busy-waiting of several writers. Writes run in ``BEGIN IMMEDIATE`` transactions, so two processes
opening the same file (a standalone ``run_paysim`` and the mounted demo) also stay consistent.
Times are unix seconds (REAL); amounts integer fen.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS trades (
    id INTEGER PRIMARY KEY,
    mch_id TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    trade_no TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,              -- NOTPAY, SUCCESS, CLOSED, REFUND
    tombstone INTEGER NOT NULL DEFAULT 0,  -- closed before it was ever created
    amount INTEGER NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    notify_url TEXT NOT NULL DEFAULT '',
    return_url TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    time_expire REAL,
    paid_at REAL,
    closed_at REAL,
    payer_account TEXT NOT NULL DEFAULT '',
    refunded INTEGER NOT NULL DEFAULT 0,   -- fen of SUCCESS refunds
    UNIQUE (mch_id, out_trade_no)
);
CREATE INDEX IF NOT EXISTS trades_out_trade_no ON trades (out_trade_no);
CREATE INDEX IF NOT EXISTS trades_expiry ON trades (status, time_expire);
CREATE INDEX IF NOT EXISTS trades_paid ON trades (mch_id, paid_at);

CREATE TABLE IF NOT EXISTS refunds (
    id INTEGER PRIMARY KEY,
    mch_id TEXT NOT NULL,
    out_refund_no TEXT NOT NULL,
    refund_id TEXT NOT NULL UNIQUE,
    out_trade_no TEXT NOT NULL,
    amount INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    notify_url TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,              -- PROCESSING, SUCCESS, ABNORMAL
    outcome TEXT NOT NULL,             -- what PROCESSING turns into: SUCCESS or ABNORMAL
    created_at REAL NOT NULL,
    settle_at REAL NOT NULL,           -- when PROCESSING turns into the outcome
    success_at REAL,
    failure_reason TEXT NOT NULL DEFAULT '',
    UNIQUE (mch_id, out_refund_no)
);
CREATE INDEX IF NOT EXISTS refunds_trade ON refunds (mch_id, out_trade_no);
CREATE INDEX IF NOT EXISTS refunds_due ON refunds (status, settle_at);
CREATE INDEX IF NOT EXISTS refunds_success ON refunds (mch_id, success_at);

CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,            -- a duplicate has the same event id as its original
    mch_id TEXT NOT NULL,
    url TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',  -- the out_trade_no: one trade's events are sent in order
    body TEXT NOT NULL,
    status TEXT NOT NULL,              -- pending, delivered, dropped, failed (gave up)
    duplicate INTEGER NOT NULL DEFAULT 0,
    held_back REAL NOT NULL DEFAULT 0, -- seconds of reordering delay
    attempts INTEGER NOT NULL DEFAULT 0,
    due_at REAL NOT NULL,
    created_at REAL NOT NULL,
    delivered_at REAL,
    last_status INTEGER,
    last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (status, due_at);
CREATE INDEX IF NOT EXISTS notifications_event ON notifications (event_id);

CREATE TABLE IF NOT EXISTS balances (
    mch_id TEXT PRIMARY KEY,
    balance INTEGER NOT NULL
);
"""


class Store:
    """A thread-safe handle on the sandbox's SQLite file; the schema is created on open."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:" and not self.path.startswith("file:"):
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = sqlite3.connect(self.path, timeout=15, isolation_level=None, check_same_thread=False,
                                     uri=self.path.startswith("file:"))
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute("PRAGMA busy_timeout = 15000")
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.executescript(SCHEMA)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (nested calls join the outer one); rolled back on any exception."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")
            finally:
                self._depth = 0

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()
