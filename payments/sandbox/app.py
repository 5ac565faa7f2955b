"""The sandbox's HTTP side: a plain WSGI application (no Django ORM, never our database).

Routes (paths below the sandbox's base URL, see PROTOCOL.md):

    GET  /healthz                                   "ok"
    POST /v1/payments              GET /v1/payments/{out_trade_no}     POST /v1/payments/{no}/close
    POST /v1/refunds               GET /v1/refunds/{out_refund_no}     GET  /v1/statements/{YYYY-MM-DD}
    GET|POST /pay/{trade_no}                        the payer page (HTML form, unsigned)
    GET|POST /_sim/config   GET /_sim/summary   POST /_sim/pay/{out_trade_no}   (loopback only)

Merchant calls (``/v1/``) are signed, slowed and failed by the fault settings; nothing else is.
Every answer is JSON except the payer page and /healthz; an unexpected exception is logged and
answered 500 ``SYSTEM_ERROR``, never a traceback.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
from urllib.parse import parse_qs, urlsplit

from .signing import MAX_SKEW_SECONDS, MIN_NONCE_LENGTH, verify
from .sim import NUMBER_RE, PaysimError, param_error

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
REASONS = {200: "OK", 303: "See Other", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
           500: "Internal Server Error"}

MERCHANT_ROUTES = [
    (re.compile(r"^/v1/payments$"), {"POST": "create_payment"}),
    (re.compile(r"^/v1/payments/(?P<no>[^/]+)$"), {"GET": "query_payment"}),
    (re.compile(r"^/v1/payments/(?P<no>[^/]+)/close$"), {"POST": "close_payment"}),
    (re.compile(r"^/v1/refunds$"), {"POST": "create_refund"}),
    (re.compile(r"^/v1/refunds/(?P<no>[^/]+)$"), {"GET": "query_refund"}),
    (re.compile(r"^/v1/statements/(?P<no>[^/]+)$"), {"GET": "statement"}),
]
SIM_PAY_RE = re.compile(r"^/_sim/pay/(?P<no>[^/]+)$")
PAYER_RE = re.compile(r"^/pay/(?P<no>[^/]+)/?$")


class Response:
    def __init__(self, status: int, body: bytes, content_type: str, headers: list | None = None):
        self.status, self.body, self.content_type, self.headers = status, body, content_type, headers or []


def json_response(status: int, data) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                    "application/json; charset=utf-8")


def error_response(status: int, code: str, message: str) -> Response:
    return json_response(status, {"code": code, "message": message})


class RequestTooLarge(Exception):
    pass


def read_body(environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        raise RequestTooLarge
    if length <= 0:
        return b""
    body = environ["wsgi.input"].read(length)
    if len(body) > MAX_BODY_BYTES:
        raise RequestTooLarge
    return body


def is_loopback(environ) -> bool:
    try:
        return ipaddress.ip_address((environ.get("REMOTE_ADDR") or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def parse_json(text: str) -> dict:
    def refuse_constant(name):
        raise ValueError(f"{name} is not JSON")

    try:
        data = json.loads(text, parse_constant=refuse_constant) if text.strip() else {}
    except (ValueError, RecursionError):
        raise param_error("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise param_error("the body must be a JSON object")
    return data


class PaysimApp:
    """``Paysim.wsgi_app``: ``app(environ, start_response)``."""

    def __init__(self, sim):
        self.sim = sim

    def __call__(self, environ, start_response):
        try:
            response = self.handle(environ)
        except Exception:
            logger.exception("paysim: unexpected error")
            response = error_response(500, "SYSTEM_ERROR", "unexpected error in the sandbox")
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body))),
                   ("Cache-Control", "no-store"), *response.headers]
        start_response(f"{response.status} {REASONS.get(response.status, 'Unknown')}", headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return [b""]
        return [response.body]

    # --- dispatch ---

    def path_of(self, environ) -> str:
        raw = environ.get("PATH_INFO") or "/"
        try:
            path = raw.encode("latin-1").decode("utf-8")
        except UnicodeError:
            path = raw
        prefix = self.sim.mount_path
        if prefix and (path == prefix or path.startswith(prefix + "/")):
            path = path[len(prefix):] or "/"
        return path

    def handle(self, environ) -> Response:
        path = self.path_of(environ)
        method = (environ.get("REQUEST_METHOD") or "GET").upper()
        if path in ("/healthz", "/healthz/"):
            if method not in ("GET", "HEAD"):
                return error_response(405, "METHOD_NOT_ALLOWED", "use GET")
            return Response(200, b"ok", "text/plain; charset=utf-8")
        try:
            body = read_body(environ)
        except RequestTooLarge:
            return error_response(413, "REQUEST_TOO_LARGE", f"the body is larger than {MAX_BODY_BYTES} bytes")
        if path.startswith("/v1/"):
            return self.merchant_call(environ, method, path, body)
        match = PAYER_RE.match(path)
        if match:
            return self.payer_page(environ, method, match["no"], body)
        if path.startswith("/_sim/"):
            return self.sim_call(environ, method, path, body)
        return error_response(404, "NOT_FOUND", "no such endpoint")

    # --- merchant API ---

    def authenticate(self, environ, method: str, path: str, text: str) -> str:
        """The merchant id of a correctly signed, fresh request, or PaysimError SIGN_ERROR."""
        mch_id = environ.get("HTTP_X_PAYSIM_MCH", "")
        timestamp = environ.get("HTTP_X_PAYSIM_TIMESTAMP", "")
        nonce = environ.get("HTTP_X_PAYSIM_NONCE", "")
        signature = environ.get("HTTP_X_PAYSIM_SIGNATURE", "")
        if not (mch_id and timestamp and nonce and signature):
            raise PaysimError(401, "SIGN_ERROR", "the X-Paysim-Mch, -Timestamp, -Nonce and -Signature headers"
                              " are required")
        merchant = self.sim.merchants.get(mch_id)
        if merchant is None:
            raise PaysimError(401, "SIGN_ERROR", "unknown merchant")
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise PaysimError(401, "SIGN_ERROR", "the timestamp must be unix seconds")
        if abs(self.sim.wall_time() - int(timestamp)) > MAX_SKEW_SECONDS:
            raise PaysimError(401, "SIGN_ERROR", f"the timestamp is more than {MAX_SKEW_SECONDS} s away")
        if not MIN_NONCE_LENGTH <= len(nonce) <= 64:
            raise PaysimError(401, "SIGN_ERROR", f"the nonce must have {MIN_NONCE_LENGTH} to 64 characters")
        query = environ.get("QUERY_STRING") or ""
        signed_path = f"{path}?{query}" if query else path
        if not verify(merchant["key"], timestamp, nonce, method, signed_path, text, signature):
            raise PaysimError(401, "SIGN_ERROR", "bad signature")
        return mch_id

    def merchant_call(self, environ, method: str, path: str, body: bytes) -> Response:
        for pattern, route_methods in MERCHANT_ROUTES:
            match = pattern.match(path)
            if match:
                methods = route_methods
                break
        else:
            return error_response(404, "NOT_FOUND", "no such endpoint")
        operation = methods.get(method)
        if operation is None:
            return error_response(405, "METHOD_NOT_ALLOWED", f"use {', '.join(methods)}")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return error_response(400, "PARAM_ERROR", "the body is not UTF-8")
        try:
            mch_id = self.authenticate(environ, method, path, text)
        except PaysimError as exc:
            return error_response(exc.status, exc.code, exc.message)

        latency, fault = self.sim.faults.api_call()
        if latency > 0:
            self.sim.sleep(latency)
        if fault is not None and not fault.after:
            if fault.kind == "timeout":
                self.sim.sleep(self.sim.faults["timeout_seconds"])
            return error_response(500, "SYSTEM_ERROR", "injected fault: the call did not take effect")
        try:
            response = json_response(200, self.run(operation, mch_id, match, text))
        except PaysimError as exc:
            response = error_response(exc.status, exc.code, exc.message)
        if fault is not None:
            if fault.kind == "timeout":
                self.sim.sleep(self.sim.faults["timeout_seconds"])
                return response
            return error_response(500, "SYSTEM_ERROR", "injected fault (the call may have taken effect)")
        return response

    def run(self, operation: str, mch_id: str, match, text: str) -> dict:
        sim = self.sim
        if operation == "create_payment":
            return sim.create_payment(mch_id, parse_json(text))
        if operation == "create_refund":
            return sim.create_refund(mch_id, parse_json(text))
        number = match["no"]
        if operation == "statement":
            return sim.statement(mch_id, number)
        if not NUMBER_RE.match(number):
            raise param_error("the number in the path has characters that are not allowed")
        if operation == "query_payment":
            return sim.query_payment(mch_id, number)
        if operation == "close_payment":
            parse_json(text)
            return sim.close_payment(mch_id, number)
        return sim.query_refund(mch_id, number)

    # --- /_sim ---

    def sim_call(self, environ, method: str, path: str, body: bytes) -> Response:
        if not is_loopback(environ):
            return error_response(403, "FORBIDDEN", "the /_sim endpoints answer loopback clients only")
        try:
            if path == "/_sim/config":
                if method == "GET":
                    return json_response(200, self.sim.faults.snapshot())
                if method != "POST":
                    return error_response(405, "METHOD_NOT_ALLOWED", "use GET or POST")
                try:
                    changes = parse_json(body.decode("utf-8"))
                except UnicodeDecodeError:
                    raise param_error("the body is not UTF-8") from None
                try:
                    return json_response(200, self.sim.configure(changes))
                except ValueError as exc:
                    raise param_error(str(exc)) from None
            if path == "/_sim/summary":
                if method != "GET":
                    return error_response(405, "METHOD_NOT_ALLOWED", "use GET")
                return json_response(200, self.sim.summary())
            match = SIM_PAY_RE.match(path)
            if match:
                if method != "POST":
                    return error_response(405, "METHOD_NOT_ALLOWED", "use POST")
                query = parse_qs(environ.get("QUERY_STRING") or "")
                return json_response(200, self.sim.sim_pay(match["no"], (query.get("mch") or [None])[0]))
        except PaysimError as exc:
            return error_response(exc.status, exc.code, exc.message)
        return error_response(404, "NOT_FOUND", "no such endpoint")

    # --- the payer page ---

    def payer_page(self, environ, method: str, trade_no: str, body: bytes) -> Response:
        from .page import render_payer_page

        if method not in ("GET", "HEAD", "POST"):
            return error_response(405, "METHOD_NOT_ALLOWED", "use GET or POST")
        action = ""
        if method == "POST":
            form = parse_qs(body.decode("utf-8", "replace"))
            action = (form.get("action") or [""])[0]
            if action not in ("confirm", "cancel"):
                trade = self.sim.trade_for_payer(trade_no)
                status = 404 if trade is None else 400
                return render_payer_page(environ, trade, status=status, problem="bad_action")
            before = self.sim.trade_for_payer(trade_no)
            if before is None:
                return render_payer_page(environ, None, status=404)
            trade = (self.sim.payer_confirm if action == "confirm" else self.sim.payer_cancel)(trade_no)
            done = (action == "confirm" and trade["status"] in ("SUCCESS", "REFUND")) or (
                action == "cancel" and before["status"] == "NOTPAY" and trade["status"] == "CLOSED")
            if done and _safe_redirect(trade["return_url"]):
                return Response(303, b"", "text/plain; charset=utf-8", [("Location", trade["return_url"])])
            return render_payer_page(environ, trade, status=200 if done else 409, action=action)
        trade = self.sim.trade_for_payer(trade_no)
        return render_payer_page(environ, trade, status=200 if trade is not None else 404)


def _safe_redirect(url: str) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)
