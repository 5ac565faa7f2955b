"""A chain head may move forward by several events at once (``audit_record_many`` appends a
transaction's events and then moves the head once), still only onto an existing event and only
when every event in between exists: (chain, seq) is unique, so as many events as the head moves
means no gap. Going back, staying, renaming or deleting a head are refused as before. PostgreSQL
only, like 0002."""

from django.db import migrations

FORWARD_SQL = """
CREATE OR REPLACE FUNCTION audit_chain_advance_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.key = OLD.key
       AND NEW.last_seq > OLD.last_seq
       AND EXISTS (SELECT 1 FROM audit_auditevent e
                   WHERE e.chain = NEW.key AND e.seq = NEW.last_seq AND e.hash = NEW.last_hash)
       AND (SELECT count(*) FROM audit_auditevent e
            WHERE e.chain = NEW.key AND e.seq > OLD.last_seq AND e.seq <= NEW.last_seq)
           = NEW.last_seq - OLD.last_seq THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit chain heads only advance onto existing events, without gaps: % on % refused',
        TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
"""

REVERSE_SQL = """
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
"""


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0003_securityreport"),
    ]

    operations = [
        migrations.RunPython(_run(FORWARD_SQL), _run(REVERSE_SQL), elidable=False),
    ]
