from decimal import Decimal

import psycopg
import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from audit.models import AuditChain, AuditEvent, AuditImmutableError
from audit.services import audit_record, audit_verify


@pytest.fixture
def event(brand):
    audit_record(action="refund.requested", brand_id=brand.pk, amount=Decimal("5.00"))
    return audit_record(action="refund.approved", brand_id=brand.pk, amount=Decimal("5.00"))


def _unchanged(event):
    row = AuditEvent.objects.get(pk=event.pk)
    return (row.action, row.amount, row.hash) == (event.action, event.amount, event.hash)


@pytest.mark.django_db
def test_saving_an_existing_event_is_refused(event):
    event.amount = Decimal("500.00")
    with pytest.raises(AuditImmutableError, match="cannot be updated"):
        event.save()
    reloaded = AuditEvent.objects.get(pk=event.pk)
    reloaded.reason = "changed"
    with pytest.raises(AuditImmutableError, match="cannot be updated"):
        reloaded.save(update_fields=["reason"])
    event.amount = Decimal("5.00")
    assert _unchanged(event)


@pytest.mark.django_db
def test_an_unsaved_copy_with_an_existing_pk_cannot_overwrite_the_row(event):
    copy = AuditEvent(pk=event.pk, chain=event.chain, seq=99, actor_type="system", action="forged",
                      prev_hash="0" * 64, hash="f" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        copy.save()  # always an INSERT, so the primary key collides
    assert _unchanged(event)


@pytest.mark.django_db
def test_deleting_through_the_orm_is_refused(event):
    with pytest.raises(AuditImmutableError, match="cannot be deleted"):
        event.delete()
    with pytest.raises(AuditImmutableError, match="cannot be deleted"):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AuditImmutableError, match="cannot be deleted"):
        AuditEvent._base_manager.all().delete()
    assert AuditEvent.objects.count() == 2


@pytest.mark.django_db
def test_bulk_writes_through_the_orm_are_refused(event):
    with pytest.raises(AuditImmutableError, match="cannot be updated"):
        AuditEvent.objects.filter(pk=event.pk).update(amount=Decimal("1.00"))
    with pytest.raises(AuditImmutableError, match="cannot be updated"):
        AuditEvent.objects.all().update(reason="x")
    event.reason = "x"
    with pytest.raises(AuditImmutableError, match="cannot be updated"):
        AuditEvent.objects.bulk_update([event], ["reason"])
    with pytest.raises(AuditImmutableError, match="cannot be updated"):
        AuditEvent.objects.update_or_create(pk=event.pk, defaults={"reason": "x"})
    with pytest.raises(AuditImmutableError, match="audit_record"):
        AuditEvent.objects.bulk_create([AuditEvent(chain="global", seq=1, action="x", prev_hash="0", hash="1")])
    event.reason = ""
    assert _unchanged(event)
    assert audit_verify().ok


def _raw(sql, params=()):
    with pytest.raises(DatabaseError) as excinfo, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    assert isinstance(excinfo.value.__cause__, psycopg.errors.InsufficientPrivilege)
    return str(excinfo.value)


@pytest.mark.django_db
def test_the_database_trigger_refuses_raw_update_and_delete(event):
    assert "UPDATE on audit_auditevent refused" in _raw(
        "UPDATE audit_auditevent SET amount = 1 WHERE id = %s", [event.pk])
    assert "DELETE on audit_auditevent refused" in _raw("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert _unchanged(event)
    assert audit_verify().ok


@pytest.mark.django_db
def test_the_database_refuses_truncate_unless_the_session_allows_it(event):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL audit.allow_truncate = 'off'")
        assert "TRUNCATE on audit_auditevent refused" in _raw("TRUNCATE audit_auditevent")
        assert "TRUNCATE on audit_auditchain refused" in _raw("TRUNCATE audit_auditchain")
    assert AuditEvent.objects.count() == 2


@pytest.mark.django_db
def test_chain_heads_only_advance_onto_an_existing_event(event):
    head = AuditChain.objects.get(key=event.chain)
    assert "UPDATE on audit_auditchain refused" in _raw(
        "UPDATE audit_auditchain SET last_seq = last_seq - 1 WHERE id = %s", [head.pk])
    assert "UPDATE on audit_auditchain refused" in _raw(
        "UPDATE audit_auditchain SET last_seq = last_seq + 1 WHERE id = %s", [head.pk])  # no such event
    assert "DELETE on audit_auditchain refused" in _raw("DELETE FROM audit_auditchain WHERE id = %s", [head.pk])
    head.refresh_from_db()
    assert (head.last_seq, head.last_hash) == (2, event.hash)


@pytest.mark.django_db
def test_a_chain_head_moves_over_several_events_only_without_a_gap(event):
    head = AuditChain.objects.get(key=event.chain)

    def stray(seq):  # an event written past the head, as an attacker with SQL access could
        row = AuditEvent(chain=event.chain, seq=seq, actor_type="system", action="forged",
                         prev_hash="0" * 64, hash=f"{seq:064x}")
        row.save()
        return row

    fourth = stray(4)  # no event 3
    assert "UPDATE on audit_auditchain refused" in _raw(
        "UPDATE audit_auditchain SET last_seq = 4, last_hash = %s WHERE id = %s", [fourth.hash, head.pk])
    third = stray(3)
    assert "UPDATE on audit_auditchain refused" in _raw(  # the hash must be that of the event moved onto
        "UPDATE audit_auditchain SET last_seq = 4, last_hash = %s WHERE id = %s", [third.hash, head.pk])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditchain SET last_seq = 4, last_hash = %s WHERE id = %s",
                       [fourth.hash, head.pk])
    head.refresh_from_db()
    assert (head.last_seq, head.last_hash) == (4, fourth.hash)
