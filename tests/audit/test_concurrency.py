import threading
from decimal import Decimal

import pytest
from django.db import connection

from audit.models import AuditChain, AuditEvent
from audit.services import GENESIS_HASH, audit_record, audit_verify

THREADS = 8
EVENTS_PER_THREAD = 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_on_one_chain_keep_it_contiguous(brand):
    assert connection.vendor == "postgresql"
    start = threading.Barrier(THREADS)
    errors = []

    def writer(n):
        try:
            start.wait(timeout=30)
            for i in range(EVENTS_PER_THREAD):
                audit_record(action="wallet.debited", brand_id=brand.pk, amount=Decimal(f"{n}.{i:02d}"),
                             data={"thread": n, "i": i, "备注": "并发"})
        except Exception as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    events = list(AuditEvent.objects.filter(chain=f"brand:{brand.pk}").order_by("seq"))
    assert len(events) == THREADS * EVENTS_PER_THREAD
    assert [e.seq for e in events] == list(range(1, THREADS * EVENTS_PER_THREAD + 1))
    assert [e.prev_hash for e in events] == [GENESIS_HASH] + [e.hash for e in events[:-1]]
    head = AuditChain.objects.get(key=f"brand:{brand.pk}")
    assert (head.last_seq, head.last_hash) == (80, events[-1].hash)
    result = audit_verify()
    assert result.ok and result.events_checked == 80
