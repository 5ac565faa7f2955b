import json
import os
import subprocess
import sys
from decimal import Decimal
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import translation

from audit.hashing import compute_hash
from audit.models import AuditEvent
from audit.services import audit_record, audit_verify
from tests.audit.conftest import audit_triggers_disabled


@pytest.fixture
def chain_of_five(brand):
    return [
        audit_record(action=f"refund.step{n}", brand_id=brand.pk, amount=Decimal(f"{n}.50"), reason="理由")
        for n in range(1, 6)
    ]


def _verify_fails():
    with translation.override("en"), pytest.raises(CommandError) as excinfo:
        call_command("verify_audit")
    assert excinfo.value.returncode == 1
    return str(excinfo.value)


@pytest.mark.django_db
def test_intact_trail_passes_with_a_summary(chain_of_five, other_brand):
    audit_record(action="refund.approved", brand_id=other_brand.pk)
    stdout = StringIO()
    with translation.override("en"):
        call_command("verify_audit", stdout=stdout)
    assert "Audit trail intact: 6 event(s) in 2 chain(s) verified." in stdout.getvalue()
    result = audit_verify()
    assert (result.ok, result.events_checked, result.chains_checked) == (True, 6, 2)


@pytest.mark.django_db
def test_amount_altered_with_sql_is_named_as_hash_mismatch(chain_of_five):
    victim = chain_of_five[2]
    with audit_triggers_disabled() as cursor:
        cursor.execute("UPDATE audit_auditevent SET amount = 999.99 WHERE id = %s", [victim.pk])

    message = _verify_fails()
    assert f"id={victim.pk} chain={victim.chain} seq=3 action=refund.step3" in message
    assert "hash mismatch (row altered)" in message
    problem = audit_verify().first_problem
    assert (problem.kind, problem.event_id, problem.seq) == ("hash_mismatch", victim.pk, 3)


@pytest.mark.django_db
def test_non_ascii_data_altered_with_sql_is_detected(chain_of_five):
    victim = chain_of_five[0]
    with audit_triggers_disabled() as cursor:
        cursor.execute("UPDATE audit_auditevent SET reason = '理由!' WHERE id = %s", [victim.pk])
    result = audit_verify()
    assert not result.ok
    assert (result.first_problem.event_id, result.problems_found) == (victim.pk, 1)


@pytest.mark.django_db
def test_forged_row_with_recomputed_hash_breaks_the_next_link(chain_of_five):
    victim, successor = chain_of_five[1], chain_of_five[2]
    forged = AuditEvent.objects.get(pk=victim.pk)
    forged.amount = Decimal("0.01")
    forged_hash = compute_hash(forged)
    with audit_triggers_disabled() as cursor:
        cursor.execute("UPDATE audit_auditevent SET amount = 0.01, hash = %s WHERE id = %s", [forged_hash, victim.pk])

    message = _verify_fails()
    assert f"id={successor.pk}" in message and "seq=3" in message
    assert "previous hash does not match" in message
    assert audit_verify().first_problem.kind == "prev_hash_mismatch"


@pytest.mark.django_db
def test_middle_row_removed_is_named_as_a_gap(chain_of_five):
    with audit_triggers_disabled() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [chain_of_five[2].pk])

    message = _verify_fails()
    assert f"id={chain_of_five[3].pk}" in message
    assert "sequence gap: event(s) removed before #4" in message
    problem = audit_verify().first_problem
    assert (problem.kind, problem.seq) == ("sequence_gap", 4)


@pytest.mark.django_db
def test_last_row_removed_is_named_by_the_chain_head(chain_of_five):
    with audit_triggers_disabled() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [chain_of_five[4].pk])

    message = _verify_fails()
    assert "chain head says #5 but last event is #4 (events removed at the end)" in message
    assert f"id={chain_of_five[3].pk}" in message
    assert audit_verify().first_problem.kind == "head_mismatch"


@pytest.mark.django_db
def test_whole_chain_removed_is_detected_from_its_head(chain_of_five):
    with audit_triggers_disabled() as cursor:
        cursor.execute("DELETE FROM audit_auditevent")
    message = _verify_fails()
    assert "chain head says #5 but last event is #0 (events removed at the end)" in message


@pytest.mark.django_db
def test_chain_option_verifies_one_chain_only(chain_of_five, other_brand):
    other = audit_record(action="refund.approved", brand_id=other_brand.pk, data={"k": [1, 2]})
    with audit_triggers_disabled() as cursor:
        cursor.execute("UPDATE audit_auditevent SET data = %s::jsonb WHERE id = %s",
                       [json.dumps({"k": [1, 3]}), other.pk])

    with translation.override("en"):
        call_command("verify_audit", chain=chain_of_five[0].chain)  # the intact one: no error
        with pytest.raises(CommandError, match=f"id={other.pk}"):
            call_command("verify_audit", chain=other.chain)
        with pytest.raises(CommandError, match="No audit chain named brand:0"):
            call_command("verify_audit", chain="brand:0")
    assert audit_verify(chain=chain_of_five[0].chain).events_checked == 5


@pytest.mark.django_db
def test_every_problem_is_counted_and_the_first_is_reported(chain_of_five):
    with audit_triggers_disabled() as cursor:
        cursor.execute("UPDATE audit_auditevent SET reason = 'x' WHERE id = ANY(%s)",
                       [[e.pk for e in chain_of_five[1:3]]])
    result = audit_verify(chunk_size=2)  # several round trips of the server-side cursor
    assert result.events_checked == 5
    assert result.problems_found == 2
    assert [p.seq for p in result.problems] == [2, 3]


def _manage_py_verify_audit():
    """Run the real command in a child process against this test database."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": url, "DJANGO_READ_DOT_ENV_FILE": "false",
           "DJANGO_SETTINGS_MODULE": "config.settings.test", "LANG": "C.UTF-8"}
    return subprocess.run(
        [sys.executable, "manage.py", "verify_audit"], cwd=settings.BASE_DIR, env=env,
        capture_output=True, text=True, timeout=120, check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_manage_py_exits_0_when_intact_and_1_naming_the_event_when_broken(brand):
    events = [audit_record(action="refund.approved", brand_id=brand.pk, amount=Decimal("8.80")) for _ in range(3)]
    intact = _manage_py_verify_audit()
    assert intact.returncode == 0, intact.stderr
    assert "3" in intact.stdout

    with audit_triggers_disabled() as cursor:
        cursor.execute("UPDATE audit_auditevent SET amount = 88.00 WHERE id = %s", [events[1].pk])
    broken = _manage_py_verify_audit()
    assert broken.returncode == 1
    assert f"id={events[1].pk} chain=brand:{brand.pk} seq=2 action=refund.approved" in broken.stderr
