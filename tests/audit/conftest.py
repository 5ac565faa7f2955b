from contextlib import contextmanager

from django.db import connection


@contextmanager
def audit_triggers_disabled():
    """Tamper the way an attacker with SQL access would: switch the append-only triggers off."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        try:
            yield cursor
        finally:
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
