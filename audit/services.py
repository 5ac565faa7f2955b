"""Writing audit events. Every money act and review decision calls ``audit_record``."""

import hashlib
import json
from datetime import UTC
from decimal import Decimal
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from .models import ActorType, AuditChain, AuditEvent

GENESIS_HASH = "0" * 64


def chain_key_for(brand_id: int | None) -> str:
    return f"brand:{brand_id}" if brand_id is not None else "global"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def canonical_payload(event: AuditEvent) -> str:
    """The canonical JSON of an event's own fields (everything but ``hash``)."""
    created = event.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = {
        "chain": event.chain,
        "seq": event.seq,
        "created_at": created,
        "actor_type": event.actor_type,
        "actor_id": event.actor_id,
        "actor_repr": event.actor_repr,
        "brand_id": event.brand_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "amount": None if event.amount is None else f"{Decimal(event.amount):.2f}",
        "reason": event.reason,
        "ip": event.ip,
        "data": event.data,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def compute_hash(event: AuditEvent) -> str:
    return hashlib.sha256((event.prev_hash + canonical_payload(event)).encode()).hexdigest()


def audit_record(
    *,
    action: str,
    actor=None,
    actor_type: str | None = None,
    obj: models.Model | None = None,
    brand_id: int | None = None,
    amount: Decimal | None = None,
    reason: str = "",
    ip: str | None = None,
    data: dict | None = None,
) -> AuditEvent:
    """Append one event to its brand's chain, inside the caller's transaction if any.

    ``actor`` is a user (or None for the system); ``actor_type`` defaults to "user" when a
    user is given, else "system". ``brand_id`` defaults to ``obj.brand_id`` when present.
    """
    if brand_id is None and obj is not None:
        brand_id = getattr(obj, "brand_id", None)
    if actor is not None and getattr(actor, "is_authenticated", False):
        actor_type = actor_type or ActorType.USER
        actor_id, actor_repr = actor.pk, str(actor)[:150]
    else:
        actor_type = actor_type or ActorType.SYSTEM
        actor_id, actor_repr = None, ""
    # Round-trip through JSON so the hash is computed over exactly what the database keeps.
    data = json.loads(json.dumps(data or {}, default=_json_default))
    key = chain_key_for(brand_id)
    with transaction.atomic():
        AuditChain.objects.get_or_create(key=key)
        head = AuditChain.objects.select_for_update().get(key=key)
        event = AuditEvent(
            chain=key,
            seq=head.last_seq + 1,
            created_at=timezone.now(),
            actor_type=actor_type,
            actor_id=actor_id,
            actor_repr=actor_repr,
            brand_id=brand_id,
            action=action,
            object_type=obj._meta.label_lower if obj is not None else "",
            object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
            object_repr=str(obj)[:200] if obj is not None else "",
            amount=None if amount is None else Decimal(amount).quantize(Decimal("0.01")),
            reason=reason or "",
            ip=ip or None,
            data=data,
            prev_hash=head.last_hash,
        )
        event.hash = compute_hash(event)
        event.save(force_insert=True)
        head.last_seq, head.last_hash = event.seq, event.hash
        head.save(update_fields=["last_seq", "last_hash"])
    return event
