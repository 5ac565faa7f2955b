import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditChain, AuditEvent
from audit.services import (
    GENESIS_HASH,
    audit_record,
    audit_record_many,
    audit_verify,
    canonical_payload,
    compute_hash,
)


def _chain(key):
    return list(AuditEvent.objects.filter(chain=key).order_by("seq"))


@pytest.mark.django_db
def test_many_events_are_chained_in_order_with_one_lock_per_chain(brand, other_brand):
    audit_record(action="order.paid", brand_id=brand.pk)  # the brand's chain exists already
    with CaptureQueriesContext(connection) as queries:
        stored = audit_record_many([
            {"action": "refund.requested", "brand_id": brand.pk, "amount": Decimal("6.00")},
            {"action": "card.credited", "brand_id": other_brand.pk, "amount": "6"},
            {"action": "refund.auto_approved", "brand_id": brand.pk, "data": {"limit": "100.00"}},
        ])

    assert [(e.chain, e.seq, e.action) for e in stored] == [
        (f"brand:{brand.pk}", 2, "refund.requested"),
        (f"brand:{other_brand.pk}", 1, "card.credited"),
        (f"brand:{brand.pk}", 3, "refund.auto_approved"),
    ]
    assert stored[2].prev_hash == stored[0].hash
    assert stored[1].prev_hash == GENESIS_HASH
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("FOR UPDATE" in q for q in sql) == 3  # the new chain is read again after its insert
    assert sum(q.startswith('UPDATE "audit_auditchain"') for q in sql) == 2
    assert sum(q.startswith('INSERT INTO "audit_auditevent"') for q in sql) == 3
    heads = dict(AuditChain.objects.values_list("key", "last_seq"))
    assert heads == {f"brand:{brand.pk}": 3, f"brand:{other_brand.pk}": 1}
    assert audit_verify().ok


@pytest.mark.django_db
def test_one_bad_event_among_many_writes_none(brand):
    with pytest.raises(ValueError, match="dotted name"):
        audit_record_many([{"action": "refund.requested", "brand_id": brand.pk}, {"action": "", "brand_id": brand.pk}])
    with pytest.raises(TypeError):
        audit_record_many([{"action": "refund.requested", "colour": "red"}])
    assert not AuditEvent.objects.exists()
    assert audit_record_many([]) == []


@pytest.mark.django_db
def test_each_brand_gets_its_own_contiguous_linked_chain(brand, other_brand):
    for n in range(3):
        audit_record(action="refund.approved", brand_id=brand.pk, amount=Decimal(n))
    for _n in range(2):
        audit_record(action="refund.rejected", brand_id=other_brand.pk)
    audit_record(action="system.started")

    for key, length in ((f"brand:{brand.pk}", 3), (f"brand:{other_brand.pk}", 2), ("global", 1)):
        events = _chain(key)
        assert [e.seq for e in events] == list(range(1, length + 1))
        assert events[0].prev_hash == GENESIS_HASH
        for previous, event in itertools.pairwise(events):
            assert event.prev_hash == previous.hash
        assert all(compute_hash(e) == e.hash for e in events)
        head = AuditChain.objects.get(key=key)
        assert (head.last_seq, head.last_hash) == (length, events[-1].hash)

    result = audit_verify()
    assert result.ok
    assert (result.events_checked, result.chains_checked) == (6, 3)
    assert result.first_problem is None


@pytest.mark.django_db
def test_actor_object_and_brand_come_from_the_user_and_the_object(hq_manager, store):
    event = audit_record(action="store.closed", actor=hq_manager, obj=store, reason="装修", ip="10.0.0.7")
    event.refresh_from_db()
    assert event.actor_type == "user"
    assert event.actor_id == hq_manager.pk
    assert event.actor_repr == str(hq_manager)
    assert event.brand_id == store.brand_id
    assert event.chain == f"brand:{store.brand_id}"
    assert (event.object_type, event.object_id, event.object_repr) == ("stores.store", str(store.pk), str(store))
    assert event.ip == "10.0.0.7"


@pytest.mark.django_db
def test_anonymous_or_missing_actor_is_the_system_and_a_task_can_say_so():
    anonymous = audit_record(action="order.expired", actor=AnonymousUser())
    task = audit_record(action="order.expired", actor_type="task")
    assert (anonymous.actor_type, anonymous.actor_id, anonymous.actor_repr) == ("system", None, "")
    assert task.actor_type == "task"
    with pytest.raises(ValueError, match="actor type"):
        audit_record(action="order.expired", actor_type="robot")


@pytest.mark.django_db
def test_non_ascii_nested_data_decimals_and_ipv6_verify_after_reload(brand):
    data = {
        "zh": "七天无理由退款 ✓",
        "nested": {"b": [1, 2.5, "退款", None, True], "a": Decimal("3.10"), "z": {"深": {"层": "值"}}},
        "integral_float": 1e20,
        "two": 2.0,
        "tiny": 1.5e-7,
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
        7: "int key",
    }
    event = audit_record(
        action="refund.approved",
        brand_id=brand.pk,
        amount=Decimal("12.345"),
        reason="顾客说菜凉了 😀\nline two",
        ip="2001:0DB8:0000:0000:0000:0000:0000:0001",
        data=data,
    )
    reloaded = AuditEvent.objects.get(pk=event.pk)

    assert reloaded.amount == Decimal("12.35")  # ROUND_HALF_UP to the cent
    assert reloaded.ip == "2001:db8::1"
    assert reloaded.reason == "顾客说菜凉了 😀\nline two"
    assert reloaded.data["nested"]["a"] == "3.10"
    assert reloaded.data["7"] == "int key"
    assert reloaded.created_at == event.created_at  # microseconds survive PostgreSQL
    assert canonical_payload(reloaded) == canonical_payload(event)
    assert "七天无理由退款" in canonical_payload(reloaded)  # kept as UTF-8, not \u escapes
    assert compute_hash(reloaded) == reloaded.hash == event.hash
    assert audit_verify().ok


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("given", "stored"),
    [(Decimal("0.005"), Decimal("0.01")), ("-0", Decimal("0.00")), (100, Decimal("100.00")),
     (Decimal("-1.5"), Decimal("-1.50")), (None, None)],
)
def test_amounts_are_stored_to_the_cent_and_verify(given, stored):
    event = audit_record(action="wallet.adjusted", amount=given)
    reloaded = AuditEvent.objects.get(pk=event.pk)
    assert reloaded.amount == stored
    assert compute_hash(reloaded) == reloaded.hash


@pytest.mark.django_db
def test_bad_inputs_are_refused_or_dropped_before_anything_is_written():
    with pytest.raises(TypeError, match="never floats"):
        audit_record(action="refund.approved", amount=1.1)
    with pytest.raises(ValueError, match="NaN"):
        audit_record(action="refund.approved", data={"score": float("nan")})
    with pytest.raises(ValueError, match="dotted name"):
        audit_record(action="x" * 81)
    with pytest.raises(ValueError, match="dotted name"):
        audit_record(action="")
    assert AuditEvent.objects.count() == 0
    assert not AuditChain.objects.filter(last_seq__gt=0).exists()

    event = audit_record(action="login.failed", ip="not-an-ip", reason="a\x00b")
    reloaded = AuditEvent.objects.get(pk=event.pk)
    assert reloaded.ip is None
    assert reloaded.reason == "a\ufffdb"
    assert compute_hash(reloaded) == reloaded.hash


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("given", "stored"),
    [(" 10.0.0.1 ", "10.0.0.1"), ("::ffff:1.2.3.4", "::ffff:1.2.3.4"), ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
     ("fe80::1%eth0", "fe80::1"), ("FE80::ABCD", "fe80::abcd"), ("", None)],
)
def test_ip_addresses_are_normalised_and_verify_after_reload(given, stored):
    event = audit_record(action="login.succeeded", ip=given)
    reloaded = AuditEvent.objects.get(pk=event.pk)
    assert reloaded.ip == stored
    assert compute_hash(reloaded) == reloaded.hash


@pytest.mark.django_db
def test_created_at_is_taken_once_the_chain_is_locked(brand, monkeypatch):
    """So that time order is sequence order: a writer that waited for the lock gets a later time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import audit.services as audit_services

    seen = []
    real_now = audit_services.timezone.now

    def now():
        seen.append(len(captured.captured_queries))
        return real_now()

    monkeypatch.setattr(audit_services.timezone, "now", now)
    with CaptureQueriesContext(connection) as captured:
        event = audit_record(action="wallet.debited", brand_id=brand.pk)

    lock_index = next(
        i for i, q in enumerate(captured.captured_queries)
        if "audit_auditchain" in q["sql"] and "FOR UPDATE" in q["sql"]
    )
    assert seen and all(count > lock_index for count in seen)
    assert event.created_at is not None
