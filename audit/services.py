"""Writing audit events. Every money act and review decision calls ``audit_record``.

Verifying the chains is ``audit_verify`` (in ``audit.verify``, re-exported here).
"""

from collections.abc import Iterable
from decimal import Decimal

from django.db import connection, models, transaction
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
    "audit_record_many",
    "audit_verify",
    "canonical_payload",
    "chain_key_for",
    "compute_hash",
]

_ACTION_MAX = AuditEvent._meta.get_field("action").max_length


def chain_key_for(brand_id: int | None) -> str:
    return f"brand:{brand_id}" if brand_id is not None else "global"


_CHAINS = connection.ops.quote_name(AuditChain._meta.db_table)
_KEY = connection.ops.quote_name("key")
_HEAD_SELECT_SQL = f"SELECT id, last_seq, last_hash FROM {_CHAINS} WHERE {_KEY} = %s"  # noqa: S608 - model names
_HEAD_MOVE_SQL = f"UPDATE {_CHAINS} SET last_seq = %s, last_hash = %s WHERE id = %s"  # noqa: S608


def _lock_head(key: str) -> tuple[int, int, str]:
    """The chain's head row (id, last seq, last hash), locked until the transaction ends.

    One ``SELECT ... FOR UPDATE`` once the chain exists (plain SQL: this runs on every money act).
    The first event of a chain inserts the head with ``ON CONFLICT DO NOTHING`` first: two
    transactions creating it at once both end up locking the one row (the second waits for the
    first's insert to commit or roll back, then reads the committed row).
    """
    sql = _HEAD_SELECT_SQL + (" FOR UPDATE" if connection.features.has_select_for_update else "")
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
        if row is None:
            AuditChain.objects.bulk_create([AuditChain(key=key)], ignore_conflicts=True)
            cursor.execute(sql, [key])
            row = cursor.fetchone()
    return row


def _event_fields(
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
) -> dict:
    """The stored fields of one event (everything but its place in the chain), validated."""
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
    return {
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


def audit_record(**event) -> AuditEvent:
    """Append one event to its brand's chain, inside the caller's transaction if any.

    ``actor`` is a user (or None for the system); ``actor_type`` defaults to "user" when a
    user is given, else "system". ``brand_id`` defaults to ``obj.brand_id`` when present.
    The other keywords are ``action`` (a dotted name), ``obj``, ``amount``, ``reason``, ``ip``
    and ``data``. The chain head row is locked (``select_for_update``) until the surrounding
    transaction ends, so events of one brand are strictly sequential; brands never wait on
    each other. ``created_at`` is taken once the lock is held, so time order is sequence order.

    The rule for callers: **the audit event is the last write of its transaction.** Lock and
    write every other row first (stores, then overrides, each in pk order), then record the
    event(s), then return. The chain lock is then always the last lock a transaction takes
    and is held only until commit; a transaction that took it and then waited for a row lock
    held by another writer (which in turn waits for the chain) would deadlock. A service that
    makes several changes in one transaction collects its events and records them at the end
    with ``audit_record_many``; a caller that composes several services in one transaction
    must use a service that does the whole change instead.
    """
    return audit_record_many([event])[0]


def audit_record_many(events: Iterable[dict]) -> list[AuditEvent]:
    """Append several events (each the keywords of ``audit_record``), in the order given, as the
    last writes of the caller's transaction. Each chain's head is locked and moved once, the
    chains in key order (so two writers of the same chains never wait on each other in a
    circle), whatever the number of events: a money act that records four events pays for one
    lock. Returns the stored events."""
    prepared = [_event_fields(**event) for event in events]  # all refused before anything is written
    if not prepared:
        return []
    keys = sorted({chain_key_for(fields["brand_id"]) for fields in prepared})
    # Inside the caller's transaction no savepoint is needed: if anything here fails, the whole
    # transaction must roll back anyway (no write may commit without its event). Alone, this
    # opens and commits its own transaction as before.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            # Django's foreign keys are checked at COMMIT (deferred). Checked then, after the
            # chain is locked, a check that waits for a row another writer holds (which in turn
            # waits for this chain) deadlocks: check them now, before the chain lock, instead.
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        heads = {key: list(_lock_head(key)) for key in keys}
        now = timezone.now()
        stored = []
        for fields in prepared:
            key = chain_key_for(fields["brand_id"])
            head = heads[key]
            event = AuditEvent(chain=key, seq=head[1] + 1, prev_hash=head[2], created_at=now, **fields)
            event.hash = compute_hash(event)
            event.save()
            head[1], head[2] = event.seq, event.hash
            stored.append(event)
        with connection.cursor() as cursor:
            for head_id, last_seq, last_hash in heads.values():
                cursor.execute(_HEAD_MOVE_SQL, [last_seq, last_hash, head_id])
    return stored
