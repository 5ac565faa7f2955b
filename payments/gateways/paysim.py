"""``wechat`` and ``alipay``: adapters for external providers speaking the sandbox's protocol.

The wire format is ``payments/sandbox/PROTOCOL.md``; in development and tests both channels talk
to the payment sandbox, as two merchants with their own ids and keys. Base URL, merchant id, key,
notify URL and timeout are settings (``PAYMENT_GATEWAYS``), so pointing a channel at the real
provider is configuration plus that provider's wire format here, not a redesign: everything above
this module speaks in ``ProviderPayment`` / ``ProviderRefund`` / ``Notification`` / ``Statement``.

Amounts are integer fen on the wire and ``Decimal`` yuan everywhere else. Timeouts, connection
errors and 5xx answers raise ``GatewayUnavailable`` (the call may have taken effect); a definite
4xx answer raises ``GatewayError`` with the provider's code.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import httpx
from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy

from ..sandbox.signing import sign, verify
from . import (
    Gateway,
    GatewayError,
    GatewayUnavailable,
    Notification,
    NotificationInvalid,
    PaymentAction,
    ProviderPayment,
    ProviderRefund,
    Statement,
    StatementLine,
    registry,
)

PAYMENT_STATUS = {"NOTPAY": "pending", "SUCCESS": "succeeded", "REFUND": "succeeded", "CLOSED": "closed"}
REFUND_STATUS = {"PROCESSING": "processing", "SUCCESS": "succeeded", "ABNORMAL": "failed"}


def to_fen(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def from_fen(value) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("amount must be an integer number of fen")
    return (Decimal(value) / 100).quantize(Decimal("0.01"))


def _when(value) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


class PaysimGateway(Gateway):
    wallet = False
    polled = True
    reconciled = True
    transport: httpx.BaseTransport | None = None  # tests talk to an in-process sandbox

    def __init__(self, channel: str, label):
        self.channel = channel
        self.label = label
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._client_key = None

    @property
    def config(self) -> dict:
        return settings.PAYMENT_GATEWAYS[self.channel]

    # --- HTTP ---

    def _http(self) -> httpx.Client:
        config = self.config
        key = (config["base_url"], float(config.get("timeout", 5.0)), id(self.transport))
        with self._lock:
            if self._client is None or self._client_key != key:
                timeout = httpx.Timeout(key[1], connect=min(key[1], 3.0))
                self._client = httpx.Client(base_url=config["base_url"].rstrip("/"), timeout=timeout,
                                            transport=self.transport)
                self._client_key = key
            return self._client

    def _call(self, method: str, path: str, body: dict | None = None) -> dict:
        config = self.config
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
        timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
        headers = {
            "Content-Type": "application/json",
            "X-Paysim-Mch": config["mch_id"],
            "X-Paysim-Timestamp": timestamp,
            "X-Paysim-Nonce": nonce,
            "X-Paysim-Signature": sign(config["key"], timestamp, nonce, method, path, raw.decode()),
        }
        try:
            response = self._http().request(method, path, content=raw or None, headers=headers)
        except httpx.TimeoutException as exc:
            raise GatewayUnavailable(f"timeout: {exc}") from exc
        except httpx.HTTPError as exc:
            raise GatewayUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise GatewayUnavailable(f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise GatewayUnavailable(f"HTTP {response.status_code}, not JSON") from exc
        if response.status_code >= 400:
            raise GatewayError(str(data.get("code") or response.status_code), str(data.get("message", ""))[:200])
        if not isinstance(data, dict):
            raise GatewayUnavailable("answer is not an object")
        return data

    # --- Payments ---

    def start(self, payment) -> PaymentAction:
        order = payment.order
        return_url = settings.SITE_URL + reverse("payments:order-pay-return", kwargs={"order_id": order.pk})
        body = {
            "out_trade_no": payment.out_trade_no,
            "amount": to_fen(payment.amount),
            "description": f"{order.store.code} #{order.display_number}",
            "notify_url": self.config["notify_url"],
            "return_url": return_url,
        }
        if payment.pay_before:
            body["time_expire"] = payment.pay_before.isoformat()
        data = self._call("POST", "/v1/payments", body)
        if data.get("out_trade_no") != payment.out_trade_no or data.get("amount") != body["amount"]:
            raise GatewayError("MISMATCH", "the provider answered about another payment")
        return PaymentAction(kind="redirect", url=str(data.get("pay_url", ""))[:500],
                             qr_content=str(data.get("qr_content", ""))[:500])

    def _payment_state(self, data: dict) -> ProviderPayment:
        try:
            amount = from_fen(data.get("amount"))
        except (ValueError, TypeError):
            amount = None
        status = PAYMENT_STATUS.get(str(data.get("status")))
        if status is None:
            raise GatewayUnavailable(f"unknown payment status {data.get('status')!r}")
        return ProviderPayment(
            status=status, amount=amount, provider_trade_no=str(data.get("trade_no") or "")[:64],
            payer_account=str(data.get("payer_account") or "")[-4:], paid_at=_when(data.get("paid_at")),
        )

    def query(self, payment) -> ProviderPayment:
        try:
            return self._payment_state(self._call("GET", f"/v1/payments/{payment.out_trade_no}"))
        except GatewayError as exc:
            if exc.code == "ORDER_NOT_EXIST":
                return ProviderPayment(status="not_found")
            raise

    def close(self, payment) -> ProviderPayment:
        try:
            self._call("POST", f"/v1/payments/{payment.out_trade_no}/close", {})
        except GatewayError as exc:
            if exc.code == "ORDER_PAID":
                return self.query(payment)
            raise
        return ProviderPayment(status="closed")

    # --- Refunds ---

    def _refund_state(self, data: dict) -> ProviderRefund:
        status = REFUND_STATUS.get(str(data.get("status")))
        if status is None:
            raise GatewayUnavailable(f"unknown refund status {data.get('status')!r}")
        try:
            amount = from_fen(data.get("amount"))
        except (ValueError, TypeError):
            amount = None
        return ProviderRefund(status=status, provider_refund_id=str(data.get("refund_id") or "")[:64],
                              amount=amount, failure_reason=str(data.get("failure_reason") or "")[:255],
                              at=_when(data.get("success_at")))

    def refund(self, refund_attempt) -> ProviderRefund:
        body = {
            "out_trade_no": refund_attempt.payment.out_trade_no,
            "out_refund_no": refund_attempt.out_refund_no,
            "amount": to_fen(refund_attempt.amount),
            "reason": refund_attempt.reason[:80],
            "notify_url": self.config["notify_url"],
        }
        return self._refund_state(self._call("POST", "/v1/refunds", body))

    def query_refund(self, refund_attempt) -> ProviderRefund:
        try:
            return self._refund_state(self._call("GET", f"/v1/refunds/{refund_attempt.out_refund_no}"))
        except GatewayError as exc:
            if exc.code == "REFUND_NOT_EXIST":
                return ProviderRefund(status="not_found")
            raise

    # --- Notifications and statements ---

    def parse_notification(self, request) -> Notification:
        config = self.config
        body = request.body
        if len(body) > settings.PAYMENT_NOTIFICATION_MAX_BYTES:
            raise NotificationInvalid("notification too large", status_code=413, code="too_large")
        mch = request.headers.get("X-Paysim-Mch", "")
        timestamp = request.headers.get("X-Paysim-Timestamp", "")
        nonce = request.headers.get("X-Paysim-Nonce", "")
        signature = request.headers.get("X-Paysim-Signature", "")
        if not (mch and timestamp and nonce and signature):
            raise NotificationInvalid("signature headers missing", code="unsigned")
        if mch != config["mch_id"]:
            raise NotificationInvalid("unknown merchant", code="bad_signature")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise NotificationInvalid("body is not UTF-8", code="malformed") from None
        if not verify(config["key"], timestamp, nonce, "POST", "notify", text, signature):
            raise NotificationInvalid("bad signature", code="bad_signature")
        try:
            age = abs(time.time() - int(timestamp))
        except ValueError:
            raise NotificationInvalid("bad timestamp", code="malformed") from None
        if age > settings.PAYMENT_NOTIFICATION_MAX_AGE_SECONDS:
            raise NotificationInvalid("timestamp too old (replay?)", code="stale")
        try:
            data = json.loads(text)
        except ValueError:
            raise NotificationInvalid("body is not JSON", code="malformed") from None
        resource = data.get("resource") if isinstance(data, dict) else None
        event_id, event_type = (data.get("id"), data.get("type")) if isinstance(data, dict) else (None, None)
        if not (isinstance(event_id, str) and event_id and isinstance(event_type, str) and isinstance(resource, dict)):
            raise NotificationInvalid("id, type and resource are required", code="malformed")
        out_trade_no = resource.get("out_trade_no") or ""
        out_refund_no = resource.get("out_refund_no") or ""
        if not isinstance(out_trade_no, str) or not isinstance(out_refund_no, str):
            raise NotificationInvalid("bad resource", code="malformed")
        return Notification(event_id=event_id[:64], event_type=event_type[:40], out_trade_no=out_trade_no[:64],
                            out_refund_no=out_refund_no[:64], payload=data)

    def statement(self, day: date) -> Statement:
        data = self._call("GET", f"/v1/statements/{day.isoformat()}")
        try:
            captures = [
                StatementLine(reference=row["out_trade_no"], amount=from_fen(row["amount"]), at=_when(row.get("at")),
                              provider_id=row.get("trade_no", ""), out_trade_no=row["out_trade_no"])
                for row in data.get("captures", [])
            ]
            refunds = [
                StatementLine(reference=row["out_refund_no"], amount=from_fen(row["amount"]), at=_when(row.get("at")),
                              provider_id=row.get("refund_id", ""), out_trade_no=row.get("out_trade_no", ""))
                for row in data.get("refunds", [])
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayUnavailable(f"malformed statement: {exc}") from exc
        return Statement(day=day, captures=captures, refunds=refunds)


wechat = registry.register(PaysimGateway("wechat", gettext_lazy("WeChat Pay")))
alipay = registry.register(PaysimGateway("alipay", gettext_lazy("Alipay")))
