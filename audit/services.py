"""Writing audit events. Every money act and review decision calls ``audit_record``.

Verifying the chains is ``audit_verify`` (in ``audit.verify``, re-exported here).
"""

from decimal import Decimal

from django.db import models, transaction
from django.utils import timezone

from .hashing import (
    GENESIS_HASH,
    canonical_payload,
    compute_hash,
    normalise_amount,
    normalise_data,
    normalise_ip,
    normalise_text,
)
from .models import ActorType, AuditChain, AuditEvent
from .verify import AuditProblem, AuditVerifyResult, audit_verify

__all__ = [
    "GENESIS_HASH",
    "AuditProblem",
    "AuditVerifyResult",
    "audit_record",
    "audit_verify",
    "canonical_payload",
    "chain_key_for",
    "compute_hash",
]

_ACTION_MAX = AuditEvent._meta.get_field("action").max_length


def chain_key_for(brand_id: int | None) -> str:
    return f"brand:{brand_id}" if brand_id is not None else "global"


def audit_record(
    *,
    action: str,
    actor=None,
    actor_type: str | None = None,
    obj: models.Model | None = None,
    brand_id: int | None = None,
    amount: Decimal | str | int | None = None,
    reason: str = "",
    ip: str | None = None,
    data: dict | None = None,
) -> AuditEvent:
    """Append one event to its brand's chain, inside the caller's transaction if any.

    ``actor`` is a user (or None for the system); ``actor_type`` defaults to "user" when a
    user is given, else "system". ``brand_id`` defaults to ``obj.brand_id`` when present.
    The chain head row is locked (``select_for_update``) until the surrounding transaction
    ends, so events of one brand are strictly sequential; brands never wait on each other.
    ``created_at`` is taken once the lock is held, so time order is sequence order.

    The rule for callers: **the audit event is the last write of its transaction.** Lock and
    write every other row first (stores, then overrides, each in pk order), then record the
    event(s), then return. The chain lock is then always the last lock a transaction takes
    and is held only until commit; a transaction that took it and then waited for a row lock
    held by another writer (which in turn waits for the chain) would deadlock. A service that
    makes several changes in one transaction collects its events and records them at the end;
    a caller that composes several services in one transaction must use a service that does
    the whole change instead.
    """
    if not action or len(action) > _ACTION_MAX:
        raise ValueError(f"An audit action is a dotted name of 1 to {_ACTION_MAX} characters.")
    if brand_id is None and obj is not None:
        brand_id = getattr(obj, "brand_id", None)
    if actor is not None and getattr(actor, "is_authenticated", False):
        actor_type = actor_type or ActorType.USER
        actor_id, actor_repr = actor.pk, normalise_text(str(actor))[:150]
    else:
        actor_type = actor_type or ActorType.SYSTEM
        actor_id, actor_repr = None, ""
    if actor_type not in ActorType.values:
        raise ValueError(f"Unknown actor type: {actor_type!r}")
    # Everything is reduced to the form the database gives back, so that the hash computed
    # now is the hash ``audit_verify`` recomputes from the stored row.
    fields = {
        "actor_type": str(actor_type),
        "actor_id": actor_id,
        "actor_repr": actor_repr,
        "brand_id": brand_id,
        "action": action,
        "object_type": obj._meta.label_lower if obj is not None else "",
        "object_id": str(obj.pk)[:64] if obj is not None and obj.pk is not None else "",
        "object_repr": normalise_text(str(obj))[:200] if obj is not None else "",
        "amount": normalise_amount(amount),
        "reason": normalise_text(reason),
        "ip": normalise_ip(ip),
        "data": normalise_data(data or {}),
    }
    key = chain_key_for(brand_id)
    with transaction.atomic():
        AuditChain.objects.get_or_create(key=key)
        head = AuditChain.objects.select_for_update().get(key=key)
        event = AuditEvent(
            chain=key, seq=head.last_seq + 1, prev_hash=head.last_hash, created_at=timezone.now(), **fields
        )
        event.hash = compute_hash(event)
        event.save()
        head.last_seq, head.last_hash = event.seq, event.hash
        head.save(update_fields=["last_seq", "last_hash"])
    return event
