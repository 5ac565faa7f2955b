"""HMAC-SHA256 signatures of the sandbox's protocol (PROTOCOL.md, "Signing").

The signed text is ``"{timestamp}\\n{nonce}\\n{METHOD}\\n{path}\\n{body}"``; the signature is its
lowercase hex HMAC-SHA256 under the merchant's key. Requests to the sandbox sign the path below
its base URL (query string included); notifications sign the fixed word ``notify`` as the path.
The merchant side (``payments/gateways/paysim.py``) imports ``sign`` and ``verify`` from here.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

NOTIFY_PATH = "notify"
HEADER_MCH = "X-Paysim-Mch"
HEADER_TIMESTAMP = "X-Paysim-Timestamp"
HEADER_NONCE = "X-Paysim-Nonce"
HEADER_SIGNATURE = "X-Paysim-Signature"
MAX_SKEW_SECONDS = 300
MIN_NONCE_LENGTH = 16


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes | bytearray) else str(value)


def signing_string(timestamp: str | int, nonce: str, method: str, path: str, body: str | bytes) -> str:
    return f"{timestamp}\n{nonce}\n{method.upper()}\n{path}\n{_text(body)}"


def sign(key: str, timestamp: str | int, nonce: str, method: str, path: str, body: str | bytes) -> str:
    """The hex signature of one request or notification (``body`` as str, or bytes in UTF-8)."""
    message = signing_string(timestamp, nonce, method, path, body)
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(key: str, timestamp: str | int, nonce: str, method: str, path: str, body: str | bytes,
           signature: str) -> bool:
    """True when ``signature`` is the right one; compared in constant time. Checks no clock."""
    if not isinstance(signature, str) or not signature:
        return False
    try:
        expected = sign(key, timestamp, nonce, method, path, body)
    except UnicodeDecodeError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().lower().encode("ascii", "replace"))


def new_nonce() -> str:
    return secrets.token_hex(12)


def signed_headers(mch_id: str, key: str, method: str, path: str, body: str | bytes = "", *,
                   timestamp: int | None = None, nonce: str | None = None) -> dict[str, str]:
    """The four ``X-Paysim-*`` headers for a request (or, with path ``notify``, a notification)."""
    timestamp_text = str(int(time.time()) if timestamp is None else int(timestamp))
    nonce = nonce or new_nonce()
    return {
        HEADER_MCH: mch_id,
        HEADER_TIMESTAMP: timestamp_text,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(key, timestamp_text, nonce, method, path, body),
    }
