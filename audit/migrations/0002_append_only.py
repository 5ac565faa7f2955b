"""Audit events are append-only: the ORM refuses (models.py), and on PostgreSQL so does SQL.

Triggers refuse UPDATE and DELETE of ``audit_auditevent`` rows and TRUNCATE of the audit
tables. A chain head may only move forward by exactly one, onto an event that exists.
TRUNCATE is let through when the session sets ``audit.allow_truncate = on`` (the test
settings do, so that Django's ``flush`` between transactional tests works); a table owner
can always drop a trigger, which is why ``manage.py verify_audit`` is the real check.
SQLite (the zero-setup demo) gets none of this.
"""

from django.db import migrations

FORWARD_SQL = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' AND coalesce(current_setting('audit.allow_truncate', true), '') = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit tables are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE OR REPLACE FUNCTION audit_chain_advance_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.key = OLD.key
       AND NEW.last_seq = OLD.last_seq + 1
       AND EXISTS (SELECT 1 FROM audit_auditevent e
                   WHERE e.chain = NEW.key AND e.seq = NEW.last_seq AND e.hash = NEW.last_hash) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit chain heads only advance by one onto an existing event: % on % refused',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_auditevent_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_auditevent_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_auditchain_advance_only
    BEFORE UPDATE OR DELETE ON audit_auditchain
    FOR EACH ROW EXECUTE FUNCTION audit_chain_advance_only();
CREATE TRIGGER audit_auditchain_no_truncate
    BEFORE TRUNCATE ON audit_auditchain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS audit_auditchain_no_truncate ON audit_auditchain;
DROP TRIGGER IF EXISTS audit_auditchain_advance_only ON audit_auditchain;
DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_chain_advance_only();
DROP FUNCTION IF EXISTS audit_refuse_change();
"""


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="auditevent",
            options={
                "base_manager_name": "objects",
                "ordering": ["-created_at", "-id"],
                "verbose_name": "audit event",
                "verbose_name_plural": "audit events",
            },
        ),
        migrations.RunPython(_run(FORWARD_SQL), _run(REVERSE_SQL), elidable=False),
    ]
