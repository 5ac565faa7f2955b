"""The sandbox's provider logic: trades, refunds, statements and the notification queue.

``Paysim`` is the whole provider: its operations take a merchant id and plain values, return the
wire objects of PROTOCOL.md (dicts) and raise ``PaysimError`` with the protocol's code. The HTTP
side (``app.py``) only parses, authenticates, injects faults and renders; ``notifier.py`` sends.
Every state change and the notifications it causes are written in one SQLite transaction.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit

from .faults import Faults
from .store import Store

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991
MAX_AMOUNT = 10_000_000_000  # fen: 100 million CNY; anything above is refused as PARAM_ERROR
DEFAULT_EXPIRE_SECONDS = 2 * 3600  # a trade created without time_expire can be paid for 2 hours
FAILURE_ACCOUNT_CLOSED = "account closed"
NUMBER_RE = re.compile(r"^[A-Za-z0-9_\-|*.@]{1,64}$")
TRADE_NO_RE = re.compile(r"^[0-9A-Za-z]{1,64}$")
DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_URL = 512
MAX_DESCRIPTION = 128
MAX_REASON = 256


class PaysimError(Exception):
    """A refusal with the protocol's status and code."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict:
        return {"code": self.code, "message": self.message}


def param_error(message: str) -> PaysimError:
    return PaysimError(400, "PARAM_ERROR", message)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, SHANGHAI).isoformat(timespec="seconds")


def fen_text(amount: int) -> str:
    """4500 -> "45.00" (integer arithmetic)."""
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    return f"{sign}{amount // 100}.{amount % 100:02d}"


def day_bounds(day: date) -> tuple[float, float]:
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return start.timestamp(), (start + timedelta(days=1)).timestamp()


# --- input checks ---

def _string(data: dict, key: str, *, required: bool = True, max_length: int = 64, pattern=None) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise param_error(f"{key} is required")
        return ""
    if not isinstance(value, str):
        raise param_error(f"{key} must be a string")
    if len(value) > max_length:
        raise param_error(f"{key} is longer than {max_length} characters")
    if pattern is not None and not pattern.match(value):
        raise param_error(f"{key} has characters that are not allowed")
    if any(ord(ch) < 32 for ch in value):
        raise param_error(f"{key} contains control characters")
    return value


def _amount(data: dict, key: str = "amount") -> int:
    value = data.get(key)
    if value is None:
        raise param_error(f"{key} is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise param_error(f"{key} must be an integer number of fen")
    if value <= 0:
        raise param_error(f"{key} must be positive")
    if value > MAX_AMOUNT:
        raise param_error(f"{key} is larger than {MAX_AMOUNT}")
    return value


def _url(data: dict, key: str, *, required: bool) -> str:
    value = _string(data, key, required=required, max_length=MAX_URL)
    if value:
        parts = urlsplit(value)
        if (parts.scheme not in ("http", "https") or not parts.netloc or not value.isascii()
                or any(ch.isspace() for ch in value)):
            raise param_error(f"{key} must be an absolute http(s) URL")
    return value


def _time(data: dict, key: str) -> float | None:
    value = _string(data, key, required=False, max_length=40)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise param_error(f"{key} must be an ISO 8601 time with an offset") from None
    if moment.tzinfo is None:
        raise param_error(f"{key} must have a UTC offset")
    return moment.timestamp()


def parse_day(text: str) -> date:
    if not DAY_RE.match(text or ""):
        raise param_error("the date must be YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise param_error("the date must be YYYY-MM-DD") from None


class Paysim:
    """The payment sandbox.

    ``merchants`` maps a merchant id to ``{"key", "name", "channel"}``; ``faults`` is the fault
    table of PROTOCOL.md; ``public_base_url`` the absolute URL the sandbox is reached at (pay URLs
    are built from it); ``clock`` returns the provider's "now" (unix seconds or an aware datetime),
    injected by tests; ``sender(url, headers, body) -> status`` sends one notification (default:
    httpx POST, 5 s timeout); ``sleep`` is used for latency and timeout faults.
    """

    def __init__(self, db_path, merchants: dict, faults: dict | None = None,
                 public_base_url: str = "http://127.0.0.1:8901", clock=None, *, sender=None, sleep=None,
                 notify_workers: int = 8):
        from .app import PaysimApp
        from .notifier import Notifier

        self.merchants = {
            str(mch_id): {"key": str(conf["key"]), "name": conf.get("name") or mch_id,
                          "channel": conf.get("channel", "")}
            for mch_id, conf in (merchants or {}).items()
        }
        self.public_base_url = public_base_url.rstrip("/")
        self.mount_path = urlsplit(self.public_base_url).path.rstrip("/")
        self.clock = clock or time.time
        self.sleep = sleep or time.sleep
        self.store = Store(db_path)
        self.faults = Faults()
        self.configure(faults or {})
        self.notifier = Notifier(self, sender=sender, workers=notify_workers)
        self.wsgi_app = PaysimApp(self)

    # --- clock and settings ---

    def now(self) -> float:
        value = self.clock()
        return value.timestamp() if isinstance(value, datetime) else float(value)

    def wall_time(self) -> float:
        """Real time for signature freshness (the injected clock is the provider's business time)."""
        return time.time()

    def configure(self, changes: dict) -> dict:
        """Apply fault settings (validated, all or nothing); ``merchant_balance`` resets balances."""
        clean = self.faults.update(changes)
        if "merchant_balance" in clean:
            with self.store.write() as db:
                db.execute("DELETE FROM balances")
                if clean["merchant_balance"] is not None:
                    db.executemany("INSERT INTO balances (mch_id, balance) VALUES (?, ?)",
                                   [(mch_id, clean["merchant_balance"]) for mch_id in self.merchants])
        return self.faults.snapshot()

    def pay_url(self, trade_no: str) -> str:
        return f"{self.public_base_url}/pay/{trade_no}"

    # --- notifications (inside a write transaction) ---

    def _notify(self, db, mch_id: str, url: str, event_type: str, resource: dict, now: float) -> None:
        event_id = f"evt_{secrets.token_hex(12)}"
        body = json.dumps({"id": event_id, "type": event_type, "created_at": iso(now), "resource": resource},
                          separators=(",", ":"), ensure_ascii=False)
        fate = self.faults.notification()
        status = "dropped" if fate.dropped or not url else "pending"
        subject = resource.get("out_trade_no", "")
        rows = [(event_id, mch_id, url, event_type, subject, body, status, 0, fate.delay, now + fate.delay, now)]
        if fate.duplicated and status == "pending":
            rows.append((event_id, mch_id, url, event_type, subject, body, status, 1, fate.delay, now + fate.delay,
                         now))
        db.executemany(
            "INSERT INTO notifications (event_id, mch_id, url, type, subject, body, status, duplicate, held_back,"
            " due_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    # --- lazy state changes (inside a write transaction) ---

    def _expire_trade(self, db, trade, now: float):
        if trade["status"] == "NOTPAY" and trade["time_expire"] is not None and trade["time_expire"] <= now:
            closed_at = trade["time_expire"]
            db.execute("UPDATE trades SET status = 'CLOSED', closed_at = ? WHERE id = ?", (closed_at, trade["id"]))
            self._notify(db, trade["mch_id"], trade["notify_url"], "payment.closed",
                         {"out_trade_no": trade["out_trade_no"], "status": "CLOSED", "amount": trade["amount"]}, now)
            return db.execute("SELECT * FROM trades WHERE id = ?", (trade["id"],)).fetchone()
        return trade

    def _settle_refund(self, db, refund, now: float):
        if refund["status"] != "PROCESSING" or refund["settle_at"] > now:
            return refund
        mch_id, amount = refund["mch_id"], refund["amount"]
        trade = db.execute("SELECT * FROM trades WHERE mch_id = ? AND out_trade_no = ?",
                           (mch_id, refund["out_trade_no"])).fetchone()
        if refund["outcome"] == "SUCCESS":
            db.execute("UPDATE refunds SET status = 'SUCCESS', success_at = settle_at WHERE id = ?", (refund["id"],))
            db.execute("UPDATE trades SET refunded = refunded + ?,"
                       " status = CASE WHEN refunded + ? >= amount THEN 'REFUND' ELSE status END WHERE id = ?",
                       (amount, amount, trade["id"]))
            event_type, status = "refund.succeeded", "SUCCESS"
        else:
            db.execute("UPDATE refunds SET status = 'ABNORMAL', failure_reason = ? WHERE id = ?",
                       (FAILURE_ACCOUNT_CLOSED, refund["id"]))
            db.execute("UPDATE balances SET balance = balance + ? WHERE mch_id = ?", (amount, mch_id))
            event_type, status = "refund.abnormal", "ABNORMAL"
        self._notify(db, mch_id, refund["notify_url"] or trade["notify_url"], event_type,
                     {"out_trade_no": refund["out_trade_no"], "out_refund_no": refund["out_refund_no"],
                      "status": status, "amount": amount}, now)
        return db.execute("SELECT * FROM refunds WHERE id = ?", (refund["id"],)).fetchone()

    def _settle_trade_refunds(self, db, mch_id: str, out_trade_no: str, now: float) -> None:
        for refund in db.execute("SELECT * FROM refunds WHERE mch_id = ? AND out_trade_no = ?"
                                 " AND status = 'PROCESSING' AND settle_at <= ? ORDER BY id",
                                 (mch_id, out_trade_no, now)).fetchall():
            self._settle_refund(db, refund, now)

    def expire_due(self, now: float | None = None) -> int:
        """Close NOTPAY trades past their time_expire and settle PROCESSING refunds past their delay."""
        now = self.now() if now is None else now
        changed = 0
        with self.store.write() as db:
            for trade in db.execute("SELECT * FROM trades WHERE status = 'NOTPAY' AND time_expire <= ?"
                                    " ORDER BY time_expire LIMIT 500", (now,)).fetchall():
                self._expire_trade(db, trade, now)
                changed += 1
            for refund in db.execute("SELECT * FROM refunds WHERE status = 'PROCESSING' AND settle_at <= ?"
                                     " ORDER BY settle_at LIMIT 500", (now,)).fetchall():
                self._settle_refund(db, refund, now)
                changed += 1
        return changed

    # --- payments ---

    def _trade(self, db, mch_id: str, out_trade_no: str):
        return db.execute("SELECT * FROM trades WHERE mch_id = ? AND out_trade_no = ?",
                          (mch_id, out_trade_no)).fetchone()

    def _created_view(self, trade) -> dict:
        return {
            "out_trade_no": trade["out_trade_no"], "trade_no": trade["trade_no"], "status": trade["status"],
            "amount": trade["amount"], "pay_url": self.pay_url(trade["trade_no"]),
            "qr_content": self.pay_url(trade["trade_no"]), "created_at": iso(trade["created_at"]),
            "time_expire": iso(trade["time_expire"]),
        }

    def _query_view(self, trade) -> dict:
        if trade["tombstone"]:
            return {"out_trade_no": trade["out_trade_no"], "trade_no": "", "status": "CLOSED", "amount": None,
                    "paid_at": None, "payer_account": "", "refunded": 0, "created_at": None,
                    "time_expire": None, "closed_at": iso(trade["closed_at"])}
        return {
            "out_trade_no": trade["out_trade_no"], "trade_no": trade["trade_no"], "status": trade["status"],
            "amount": trade["amount"], "paid_at": iso(trade["paid_at"]), "payer_account": trade["payer_account"],
            "refunded": trade["refunded"], "created_at": iso(trade["created_at"]),
            "time_expire": iso(trade["time_expire"]), "closed_at": iso(trade["closed_at"]),
        }

    def create_payment(self, mch_id: str, data: dict) -> dict:
        out_trade_no = _string(data, "out_trade_no", pattern=NUMBER_RE)
        amount = _amount(data)
        description = _string(data, "description", max_length=MAX_DESCRIPTION)
        notify_url = _url(data, "notify_url", required=True)
        return_url = _url(data, "return_url", required=False)
        time_expire = _time(data, "time_expire")
        now = self.now()
        with self.store.write() as db:
            trade = self._trade(db, mch_id, out_trade_no)
            if trade is not None:
                if trade["tombstone"]:
                    raise PaysimError(409, "ORDER_CLOSED", "this out_trade_no was closed before it was created")
                if trade["amount"] != amount or trade["description"] != description:
                    raise PaysimError(409, "OUT_TRADE_NO_USED",
                                      "this out_trade_no was created with another amount or description")
                return self._created_view(self._expire_trade(db, trade, now))
            if time_expire is None:
                time_expire = now + DEFAULT_EXPIRE_SECONDS
            elif time_expire <= now:
                raise param_error("time_expire is in the past")
            trade_no = f"{datetime.fromtimestamp(now, SHANGHAI):%Y%m%d}{secrets.randbelow(10**20):020d}"
            db.execute(
                "INSERT INTO trades (mch_id, out_trade_no, trade_no, status, amount, description, notify_url,"
                " return_url, created_at, time_expire) VALUES (?, ?, ?, 'NOTPAY', ?, ?, ?, ?, ?, ?)",
                (mch_id, out_trade_no, trade_no, amount, description, notify_url, return_url, now, time_expire))
            return self._created_view(self._trade(db, mch_id, out_trade_no))

    def query_payment(self, mch_id: str, out_trade_no: str) -> dict:
        now = self.now()
        with self.store.write() as db:
            trade = self._trade(db, mch_id, out_trade_no)
            if trade is None:
                raise PaysimError(404, "ORDER_NOT_EXIST", "no such trade")
            trade = self._expire_trade(db, trade, now)
            self._settle_trade_refunds(db, mch_id, out_trade_no, now)
            return self._query_view(self._trade(db, mch_id, out_trade_no))

    def close_payment(self, mch_id: str, out_trade_no: str) -> dict:
        if not NUMBER_RE.match(out_trade_no):
            raise param_error("out_trade_no has characters that are not allowed")
        now = self.now()
        with self.store.write() as db:
            trade = self._trade(db, mch_id, out_trade_no)
            if trade is None:
                trade_no = f"T{secrets.token_hex(15)}"
                db.execute(
                    "INSERT INTO trades (mch_id, out_trade_no, trade_no, status, tombstone, amount, created_at,"
                    " closed_at) VALUES (?, ?, ?, 'CLOSED', 1, 0, ?, ?)", (mch_id, out_trade_no, trade_no, now, now))
            else:
                trade = self._expire_trade(db, trade, now)
                if trade["status"] in ("SUCCESS", "REFUND"):
                    raise PaysimError(409, "ORDER_PAID", "the trade is paid and cannot be closed")
                if trade["status"] == "NOTPAY":
                    db.execute("UPDATE trades SET status = 'CLOSED', closed_at = ? WHERE id = ?", (now, trade["id"]))
        return {"out_trade_no": out_trade_no, "status": "CLOSED"}

    # --- the payer ---

    def trade_for_payer(self, trade_no: str) -> dict | None:
        """The trade behind a pay URL (expired lazily), with its merchant's name; None if unknown."""
        if not TRADE_NO_RE.match(trade_no or ""):
            return None
        now = self.now()
        with self.store.write() as db:
            trade = db.execute("SELECT * FROM trades WHERE trade_no = ? AND tombstone = 0", (trade_no,)).fetchone()
            if trade is None:
                return None
            return self._payer_view(self._expire_trade(db, trade, now))

    def _payer_view(self, trade) -> dict:
        merchant = self.merchants.get(trade["mch_id"], {})
        view = dict(trade)
        view.update(merchant_name=str(merchant.get("name", trade["mch_id"])), amount_text=fen_text(trade["amount"]))
        return view

    def _pay(self, db, trade, now: float):
        """NOTPAY -> SUCCESS (payer account masked, balance credited, notification queued)."""
        trade = self._expire_trade(db, trade, now)
        if trade["status"] != "NOTPAY":
            return trade
        account = f"****{secrets.randbelow(10**4):04d}"
        db.execute("UPDATE trades SET status = 'SUCCESS', paid_at = ?, payer_account = ? WHERE id = ?",
                   (now, account, trade["id"]))
        db.execute("UPDATE balances SET balance = balance + ? WHERE mch_id = ?", (trade["amount"], trade["mch_id"]))
        self._notify(db, trade["mch_id"], trade["notify_url"], "payment.succeeded",
                     {"out_trade_no": trade["out_trade_no"], "status": "SUCCESS", "amount": trade["amount"]}, now)
        return db.execute("SELECT * FROM trades WHERE id = ?", (trade["id"],)).fetchone()

    def payer_confirm(self, trade_no: str) -> dict | None:
        now = self.now()
        with self.store.write() as db:
            trade = db.execute("SELECT * FROM trades WHERE trade_no = ? AND tombstone = 0", (trade_no,)).fetchone()
            return None if trade is None else self._payer_view(self._pay(db, trade, now))

    def payer_cancel(self, trade_no: str) -> dict | None:
        now = self.now()
        with self.store.write() as db:
            trade = db.execute("SELECT * FROM trades WHERE trade_no = ? AND tombstone = 0", (trade_no,)).fetchone()
            if trade is None:
                return None
            trade = self._expire_trade(db, trade, now)
            if trade["status"] == "NOTPAY":
                db.execute("UPDATE trades SET status = 'CLOSED', closed_at = ? WHERE id = ?", (now, trade["id"]))
                self._notify(db, trade["mch_id"], trade["notify_url"], "payment.closed",
                             {"out_trade_no": trade["out_trade_no"], "status": "CLOSED", "amount": trade["amount"]},
                             now)
                trade = db.execute("SELECT * FROM trades WHERE id = ?", (trade["id"],)).fetchone()
            return self._payer_view(trade)

    def sim_pay(self, out_trade_no: str, mch_id: str | None = None) -> dict:
        """``POST /_sim/pay/{out_trade_no}``: confirm like the payer page; the query object."""
        now = self.now()
        with self.store.write() as db:
            if mch_id:
                rows = db.execute("SELECT * FROM trades WHERE mch_id = ? AND out_trade_no = ? AND tombstone = 0",
                                  (mch_id, out_trade_no)).fetchall()
            else:
                rows = db.execute("SELECT * FROM trades WHERE out_trade_no = ? AND tombstone = 0",
                                  (out_trade_no,)).fetchall()
            if not rows:
                raise PaysimError(404, "ORDER_NOT_EXIST", "no such trade")
            if len(rows) > 1:
                raise param_error("several merchants have this out_trade_no: add ?mch=<merchant id>")
            trade = self._pay(db, rows[0], now)
            if trade["status"] == "CLOSED":
                raise PaysimError(409, "ORDER_CLOSED", "the trade is closed")
            return self._query_view(trade)

    # --- refunds ---

    def _refund_view(self, refund) -> dict:
        return {
            "out_refund_no": refund["out_refund_no"], "refund_id": refund["refund_id"],
            "out_trade_no": refund["out_trade_no"], "status": refund["status"], "amount": refund["amount"],
            "created_at": iso(refund["created_at"]), "success_at": iso(refund["success_at"]),
            "failure_reason": refund["failure_reason"],
        }

    def create_refund(self, mch_id: str, data: dict) -> dict:
        out_trade_no = _string(data, "out_trade_no", pattern=NUMBER_RE)
        out_refund_no = _string(data, "out_refund_no", pattern=NUMBER_RE)
        amount = _amount(data)
        reason = _string(data, "reason", required=False, max_length=MAX_REASON)
        notify_url = _url(data, "notify_url", required=False)
        now = self.now()
        with self.store.write() as db:
            refund = db.execute("SELECT * FROM refunds WHERE mch_id = ? AND out_refund_no = ?",
                                (mch_id, out_refund_no)).fetchone()
            if refund is not None:
                if refund["out_trade_no"] != out_trade_no or refund["amount"] != amount:
                    raise PaysimError(409, "OUT_REFUND_NO_USED",
                                      "this out_refund_no was used for another trade or amount")
                return self._refund_view(self._settle_refund(db, refund, now))
            trade = self._trade(db, mch_id, out_trade_no)
            if trade is None:
                raise PaysimError(404, "ORDER_NOT_EXIST", "no such trade")
            trade = self._expire_trade(db, trade, now)
            self._settle_trade_refunds(db, mch_id, out_trade_no, now)
            if trade["status"] not in ("SUCCESS", "REFUND"):
                raise PaysimError(409, "ORDER_CLOSED", "the trade is not paid (closed or still waiting)")
            committed = db.execute("SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE mch_id = ? AND out_trade_no = ?"
                                   " AND status != 'ABNORMAL'", (mch_id, out_trade_no)).fetchone()[0]
            if committed + amount > trade["amount"]:
                raise PaysimError(400, "REFUND_AMOUNT_EXCEEDED",
                                  f"refunds would exceed the trade: {committed} + {amount} > {trade['amount']} fen")
            balance = db.execute("SELECT balance FROM balances WHERE mch_id = ?", (mch_id,)).fetchone()
            if balance is not None and balance[0] < amount:
                raise PaysimError(409, "NOT_ENOUGH", "the merchant's balance is too low for this refund")
            outcome = "ABNORMAL" if self.faults.refund_fails() else "SUCCESS"
            refund_id = f"50{datetime.fromtimestamp(now, SHANGHAI):%Y%m%d}{secrets.randbelow(10**20):020d}"
            db.execute(
                "INSERT INTO refunds (mch_id, out_refund_no, refund_id, out_trade_no, amount, reason, notify_url,"
                " status, outcome, created_at, settle_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'PROCESSING', ?, ?, ?)",
                (mch_id, out_refund_no, refund_id, out_trade_no, amount, reason, notify_url, outcome, now,
                 now + self.faults["refund_processing_seconds"]))
            db.execute("UPDATE balances SET balance = balance - ? WHERE mch_id = ?", (amount, mch_id))
            refund = db.execute("SELECT * FROM refunds WHERE refund_id = ?", (refund_id,)).fetchone()
            return self._refund_view(self._settle_refund(db, refund, now))

    def query_refund(self, mch_id: str, out_refund_no: str) -> dict:
        now = self.now()
        with self.store.write() as db:
            refund = db.execute("SELECT * FROM refunds WHERE mch_id = ? AND out_refund_no = ?",
                                (mch_id, out_refund_no)).fetchone()
            if refund is None:
                raise PaysimError(404, "REFUND_NOT_EXIST", "no such refund")
            return self._refund_view(self._settle_refund(db, refund, now))

    # --- statement ---

    def statement(self, mch_id: str, day: date | str) -> dict:
        if isinstance(day, str):
            day = parse_day(day)
        start, end = day_bounds(day)
        self.expire_due()
        with self.store.read() as db:
            captures = db.execute(
                "SELECT out_trade_no, trade_no, amount, paid_at FROM trades WHERE mch_id = ? AND paid_at >= ?"
                " AND paid_at < ? ORDER BY paid_at, id", (mch_id, start, end)).fetchall()
            refunds = db.execute(
                "SELECT out_refund_no, out_trade_no, refund_id, amount, success_at FROM refunds WHERE mch_id = ?"
                " AND status = 'SUCCESS' AND success_at >= ? AND success_at < ? ORDER BY success_at, id",
                (mch_id, start, end)).fetchall()
        return {
            "date": day.isoformat(),
            "captures": [{"out_trade_no": r["out_trade_no"], "trade_no": r["trade_no"], "amount": r["amount"],
                          "at": iso(r["paid_at"])} for r in captures],
            "refunds": [{"out_refund_no": r["out_refund_no"], "out_trade_no": r["out_trade_no"],
                         "refund_id": r["refund_id"], "amount": r["amount"], "at": iso(r["success_at"])}
                        for r in refunds],
            "total_captured": sum(r["amount"] for r in captures),
            "total_refunded": sum(r["amount"] for r in refunds),
        }

    # --- operations ---

    def summary(self) -> dict:
        merchants = {
            mch_id: {"name": str(conf["name"]), "channel": conf["channel"], "trades": {}, "refunds": {},
                     "tombstones": 0, "balance": None,
                     "notifications": {"sent": 0, "acknowledged": 0, "dropped": 0, "pending": 0, "failed": 0}}
            for mch_id, conf in self.merchants.items()
        }

        def entry(mch_id):
            return merchants.setdefault(mch_id, {"name": mch_id, "channel": "", "trades": {}, "refunds": {},
                                                 "tombstones": 0, "balance": None, "notifications": {
                                                     "sent": 0, "acknowledged": 0, "dropped": 0, "pending": 0,
                                                     "failed": 0}})

        with self.store.read() as db:
            for row in db.execute("SELECT mch_id, status, tombstone, COUNT(*), COALESCE(SUM(amount), 0) FROM trades"
                                  " GROUP BY mch_id, status, tombstone"):
                if row[2]:
                    entry(row[0])["tombstones"] += row[3]
                else:
                    entry(row[0])["trades"][row[1]] = {"count": row[3], "amount": row[4]}
            for row in db.execute("SELECT mch_id, status, COUNT(*), SUM(amount) FROM refunds GROUP BY mch_id, status"):
                entry(row[0])["refunds"][row[1]] = {"count": row[2], "amount": row[3]}
            for row in db.execute("SELECT mch_id, status, COUNT(*), SUM(attempts) FROM notifications"
                                  " GROUP BY mch_id, status"):
                counts = entry(row[0])["notifications"]
                counts["sent"] += row[3] or 0
                key = {"delivered": "acknowledged"}.get(row[1], row[1])
                counts[key] = counts.get(key, 0) + row[2]
            for row in db.execute("SELECT mch_id, balance FROM balances"):
                entry(row[0])["balance"] = row[1]
        return {"merchants": merchants, "faults": self.faults.snapshot()}

    def notifications(self, *, event_id: str | None = None) -> list[dict]:
        """Every notification row, oldest first (for tests and the summary's curious reader)."""
        with self.store.read() as db:
            if event_id:
                rows = db.execute("SELECT * FROM notifications WHERE event_id = ? ORDER BY id", (event_id,))
            else:
                rows = db.execute("SELECT * FROM notifications ORDER BY id")
            return [dict(row) for row in rows.fetchall()]

    # --- delivery ---

    def deliver_due(self, now: float | None = None) -> int:
        """Send the notifications due now (synchronously); returns how many sends were attempted."""
        return self.notifier.deliver_due(now)

    def tick(self, now: float | None = None) -> int:
        """One round of the background loop: expiry and refund settlement, then delivery."""
        self.expire_due(now)
        return self.deliver_due(now)

    def start_notifier(self, interval: float = 0.1) -> None:
        self.notifier.start(interval)

    def stop(self) -> None:
        self.notifier.stop()

    def close(self) -> None:
        self.stop()
        self.store.close()
