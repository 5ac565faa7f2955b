"""Lock order under real concurrency (PostgreSQL, real threads, one connection each).

Every service locks stores, then overrides, then the audit chain (the audit event is the last
write of its transaction). Saving a store with override changes in the admin and a bulk
sold-out on the same overrides used to take the chain lock in opposite orders: a deadlock.
"""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Role
from audit.services import audit_verify
from stores import services
from stores.models import Store, StoreDishOverride
from tests.stores.factories import DishFactory, StoreDishOverrideFactory, StoreFactory, make_staff

ROUNDS = 12


def _run(workers):
    """Start every worker at once; return the exceptions they raised."""
    start = threading.Barrier(len(workers))
    errors = []

    def wrap(work):
        try:
            start.wait(timeout=30)
            work()
        except Exception as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=wrap, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return errors


@pytest.mark.django_db(transaction=True)
def test_store_save_with_override_edits_and_bulk_sold_out_do_not_deadlock(brand):
    assert connection.vendor == "postgresql"
    store = StoreFactory(brand=brand, code="SH001")
    other = StoreFactory(brand=brand, code="SH002")
    dishes = DishFactory.create_batch(4, brand=brand)
    overrides = [StoreDishOverrideFactory(store=store, dish=dish, stock=50) for dish in dishes]
    manager = make_staff(role=Role.HQ_MANAGER, brand=brand, phone="13700000009")
    pks = [override.pk for override in overrides]

    def admin_saves():
        for i in range(ROUNDS):
            edited = Store.objects.get(pk=store.pk)
            edited.name = f"门店 {i}"
            edits = [
                services.OverrideEdit(values={"stock": i, "price": Decimal(f"{20 + i}.00")}, override=override)
                for override in reversed(overrides)
            ]
            services.store_save(actor=manager, store=edited, changed=["name"], overrides=edits)

    def bulk_sold_out():
        for i in range(ROUNDS):
            services.overrides_apply(actor=manager, overrides=pks, action="sold_out" if i % 2 else "available")
            services.override_set_availability(
                actor=manager, stores=[store, other], dishes=dishes, available=bool(i % 2)
            )

    errors = _run([admin_saves, bulk_sold_out])

    assert errors == []  # no "deadlock detected"
    saved = Store.objects.get(pk=store.pk)
    assert saved.name == f"门店 {ROUNDS - 1}"
    rows = StoreDishOverride.objects.filter(pk__in=pks)
    assert set(rows.values_list("stock", flat=True)) == {ROUNDS - 1}
    assert set(rows.values_list("price", flat=True)) == {Decimal(f"{20 + ROUNDS - 1}.00")}
    assert StoreDishOverride.objects.filter(store=other).count() == len(dishes)
    result = audit_verify()
    assert result.ok
