"""Verifying the audit chains: recompute every hash, follow every link, compare with the heads.

Events are read ordered by (chain, seq) through a chunked server-side cursor, so memory stays
flat however many millions of rows there are. On PostgreSQL the walk runs in one
REPEATABLE READ, READ ONLY transaction: the heads and the events are read from one snapshot,
so events appended while the walk runs never look like a broken chain.
"""

from dataclasses import dataclass, field

from django.db import connections, router, transaction
from django.utils.translation import gettext as _

from .hashing import GENESIS_HASH, compute_hash
from .models import AuditChain, AuditEvent

MAX_PROBLEMS_KEPT = 20


class ProblemKind:
    HASH_MISMATCH = "hash_mismatch"
    PREV_HASH_MISMATCH = "prev_hash_mismatch"
    SEQUENCE_GAP = "sequence_gap"
    HEAD_MISMATCH = "head_mismatch"
    HEAD_MISSING = "head_missing"


@dataclass(frozen=True)
class AuditProblem:
    """One broken place in a chain. ``event_id``/``seq``/``action`` name the event where the
    break shows (for events removed at the end: the last event still there, if any)."""

    kind: str
    chain: str
    seq: int | None
    event_id: int | None
    action: str
    message: str

    def __str__(self) -> str:
        # The key=value part stays untranslated so that logs and scripts can match it.
        return "event id={id} chain={chain} seq={seq} action={action}: {message}".format(**{
            "id": self.event_id if self.event_id is not None else "-",
            "chain": self.chain,
            "seq": self.seq if self.seq is not None else "-",
            "action": self.action or "-",
            "message": self.message,
        })


@dataclass
class AuditVerifyResult:
    events_checked: int = 0
    chains_checked: int = 0
    problems_found: int = 0
    problems: list[AuditProblem] = field(default_factory=list)  # the first MAX_PROBLEMS_KEPT

    @property
    def ok(self) -> bool:
        return self.problems_found == 0

    @property
    def first_problem(self) -> AuditProblem | None:
        return self.problems[0] if self.problems else None

    def add(self, problem: AuditProblem) -> None:
        self.problems_found += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append(problem)


def audit_verify(*, chain: str | None = None, chunk_size: int = 2000) -> AuditVerifyResult:
    """Check every chain (or only ``chain``) and return what was found; never raises for tampering."""
    alias = router.db_for_read(AuditEvent)
    connection = connections[alias]
    if connection.in_atomic_block:
        # Inside the caller's transaction: its snapshot rules apply.
        return _walk(alias, chain=chain, chunk_size=chunk_size)
    with transaction.atomic(using=alias):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return _walk(alias, chain=chain, chunk_size=chunk_size)


def _walk(alias: str, *, chain: str | None, chunk_size: int) -> AuditVerifyResult:
    result = AuditVerifyResult()
    heads_qs = AuditChain.objects.using(alias).order_by("key")
    events = AuditEvent.objects.using(alias).order_by("chain", "seq")
    if chain is not None:
        heads_qs = heads_qs.filter(key=chain)
        events = events.filter(chain=chain)
    heads = {key: (seq, hash_) for key, seq, hash_ in heads_qs.values_list("key", "last_seq", "last_hash")}

    current: str | None = None
    last: AuditEvent | None = None
    prev_hash = GENESIS_HASH
    expected_seq = 1
    for event in events.iterator(chunk_size=chunk_size):
        if event.chain != current:
            if current is not None:
                _check_head(result, current, last, heads.pop(current, None))
            current, last, prev_hash, expected_seq = event.chain, None, GENESIS_HASH, 1
            result.chains_checked += 1
        result.events_checked += 1
        problem = _check_event(event, expected_seq=expected_seq, prev_hash=prev_hash)
        if problem is not None:
            result.add(problem)
        # Link the next event to what is stored, so that one tampered row is reported once.
        prev_hash, expected_seq, last = event.hash, event.seq + 1, event
    if current is not None:
        _check_head(result, current, last, heads.pop(current, None))

    for key, head in heads.items():  # heads whose chain has no event left
        result.chains_checked += 1
        if head[0] != 0:
            _check_head(result, key, None, head)
    return result


def _problem(kind: str, event: AuditEvent, message: str) -> AuditProblem:
    return AuditProblem(kind=kind, chain=event.chain, seq=event.seq, event_id=event.pk, action=event.action,
                        message=message)


def _check_event(event: AuditEvent, *, expected_seq: int, prev_hash: str) -> AuditProblem | None:
    if event.seq != expected_seq:
        return _problem(ProblemKind.SEQUENCE_GAP, event,
                        _("sequence gap: event(s) removed before #%(seq)s") % {"seq": event.seq})
    try:
        recomputed = compute_hash(event)
    except (TypeError, ValueError):
        recomputed = None
    if recomputed != event.hash:
        return _problem(ProblemKind.HASH_MISMATCH, event, _("hash mismatch (row altered)"))
    if event.prev_hash != prev_hash:
        return _problem(ProblemKind.PREV_HASH_MISMATCH, event, _("previous hash does not match"))
    return None


def _check_head(result: AuditVerifyResult, key: str, last: AuditEvent | None, head: tuple[int, str] | None) -> None:
    last_seq = last.seq if last is not None else 0
    last_hash = last.hash if last is not None else GENESIS_HASH
    where = {"chain": key, "seq": last_seq or None, "event_id": last.pk if last is not None else None,
             "action": last.action if last is not None else ""}
    if head is None:
        result.add(AuditProblem(kind=ProblemKind.HEAD_MISSING, message=_("the chain has no head row"), **where))
        return
    head_seq, head_hash = head
    if head_seq > last_seq:
        message = _("chain head says #%(head)s but last event is #%(last)s (events removed at the end)")
    elif head_seq < last_seq:
        message = _("chain head says #%(head)s but the events go on to #%(last)s (events added behind its back)")
    elif head_hash != last_hash:
        message = _("chain head hash does not match the last event")
    else:
        return
    result.add(AuditProblem(kind=ProblemKind.HEAD_MISMATCH,
                            message=message % {"head": head_seq, "last": last_seq}, **where))
