"""Encryption of the few secrets we must keep readable (a customer's bank account number for a
refund by bank transfer): Fernet (AES-128-CBC with HMAC-SHA256) from ``cryptography``.

The key is ``FIELD_ENCRYPTION_KEY`` (a Fernet key: 32 url-safe base64 bytes); without it, one is
derived from ``SECRET_KEY``, so rotating the secret key makes old values unreadable (decrypt then
answers ``None``, never raises). Everywhere else such a number appears masked (last 4 digits).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    key = getattr(settings, "FIELD_ENCRYPTION_KEY", "") or ""
    if not key:
        digest = hashlib.sha256(f"field-encryption:{settings.SECRET_KEY}".encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key.encode() if isinstance(key, str) else key)


def encrypt_text(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt_text(token: str) -> str | None:
    if not token:
        return None
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return None
