"""The canonical form of an audit event and its hash.

The hash must verify after the row has been written to and read back from the database,
so every value is reduced to one stable text form before hashing:

- ``created_at``: UTC, microseconds (what PostgreSQL's ``timestamptz`` and SQLite keep);
- ``amount``: a Decimal with exactly two places, ``-0.00`` folded into ``0.00``;
- ``ip``: ``ipaddress``'s compressed form (PostgreSQL's ``inet`` prints addresses its own way);
- ``data``: JSON with sorted keys at every level, non-ASCII kept as is, Decimals as
  strings, integral floats as integers (``jsonb`` stores ``1e20`` and ``2.0`` as numerics
  that come back as ``100000000000000000000`` and ``2.0``), no NaN or infinity.

``normalise_*`` are applied both when an event is recorded and when it is verified, so the
canonical JSON of a freshly built event and of the same row re-read are byte-identical.
"""

import datetime as dt
import hashlib
import ipaddress
import json
import math
import uuid
from decimal import Decimal
from typing import Any

from config.money import money

GENESIS_HASH = "0" * 64


def normalise_text(value: str | None) -> str:
    """PostgreSQL text cannot hold NUL; replace it so that what is hashed is what is stored."""
    return (value or "").replace("\x00", "\ufffd")


def normalise_amount(value) -> Decimal | None:
    """Two places, rounded half up (``config.money``), ``-0.00`` folded into ``0.00``."""
    if value is None:
        return None
    try:
        amount = money(value)
    except TypeError as exc:
        raise TypeError("Audit amounts are Decimals (or strings/ints), never floats.") from exc
    return amount if amount != 0 else Decimal("0.00")


def amount_text(value) -> str | None:
    amount = normalise_amount(value)
    return None if amount is None else format(amount, "f")


def normalise_ip(value: str | None) -> str | None:
    """The compressed text form of an IP address; None for empty or unparsable input."""
    if not value:
        return None
    text = str(value).strip()
    if "/" in text:  # inet may carry a netmask; a host address never needs one
        text = text.split("/", 1)[0]
    text = text.split("%", 1)[0]  # IPv6 zone ids do not fit PostgreSQL's inet
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def normalise_data(value: Any) -> Any:
    """A JSON-safe copy of ``value`` that survives a round trip through ``jsonb`` unchanged."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return normalise_text(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("Audit data cannot hold NaN or infinity.")
        return int(value) if value.is_integer() else value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {normalise_text(str(k)): normalise_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [normalise_data(v) for v in value]
        return sorted(items, key=_sort_key) if isinstance(value, set | frozenset) else items
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return normalise_text(str(value))


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def created_at_text(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("Audit event times must be timezone-aware.")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_payload(event) -> str:
    """The canonical JSON of an event's own fields (everything but ``hash``)."""
    payload = {
        "chain": event.chain,
        "seq": int(event.seq),
        "created_at": created_at_text(event.created_at),
        "actor_type": str(event.actor_type),
        "actor_id": event.actor_id,
        "actor_repr": event.actor_repr,
        "brand_id": event.brand_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "amount": amount_text(event.amount),
        "reason": event.reason,
        "ip": normalise_ip(event.ip),
        "data": normalise_data(event.data if event.data is not None else {}),
        "prev_hash": event.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def compute_hash(event) -> str:
    """SHA-256 over the previous event's hash and this event's canonical JSON."""
    return hashlib.sha256((event.prev_hash + canonical_payload(event)).encode("utf-8")).hexdigest()
