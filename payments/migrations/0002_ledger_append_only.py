"""Gift card ledger entries are append-only: the ORM refuses (config.append_only), and on
PostgreSQL so does SQL: a trigger refuses UPDATE and DELETE of ``payments_giftcardentry`` rows.
SQLite (the zero-setup demo) gets only the ORM guard."""

from django.db import migrations

FORWARD_SQL = """
CREATE OR REPLACE FUNCTION payments_ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER payments_giftcardentry_append_only
    BEFORE UPDATE OR DELETE ON payments_giftcardentry
    FOR EACH ROW EXECUTE FUNCTION payments_ledger_refuse_change();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS payments_giftcardentry_append_only ON payments_giftcardentry;
DROP FUNCTION IF EXISTS payments_ledger_refuse_change();
"""


def _run(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD_SQL), _run(REVERSE_SQL))]
