"""config.fsm.FSMRefreshMixin: refresh_from_db on protected FSM fields, also from many threads at once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from ordering.models import Order, OrderStatus
from ordering.services import order_bump
from payments.models import Payment
from tests.ordering.factories import Menu, paid_order, submit

THREADS = 8
ITERATIONS = 200


def _status_field(model):
    return model._meta.get_field("status")


@pytest.mark.django_db
def test_refresh_from_db_reloads_a_protected_status(customer, store, store_manager):
    menu = Menu(store)
    order = paid_order(customer, store, menu)
    stale = Order.objects.get(pk=order.pk)
    order_bump(actor=store_manager, order_id=order.pk, move="start")

    stale.refresh_from_db()
    assert stale.status == OrderStatus.PREPARING and stale.started_at is not None

    order_bump(actor=store_manager, order_id=order.pk, move="ready")
    stale.refresh_from_db(fields=["status"])
    assert stale.status == OrderStatus.READY
    assert stale.ready_at is None  # only the field asked for was reloaded

    # A plain refresh reloads the status in the same query and it is protected at once (no
    # lazy second query that leaves it writable until it is first read).
    stale.refresh_from_db()
    assert "status" in stale.__dict__
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        stale.status = OrderStatus.PAID

    # Still protected afterwards, on this instance and on the shared field.
    with pytest.raises(AttributeError, match="Direct status modification is not allowed"):
        stale.status = OrderStatus.PAID
    assert _status_field(Order).protected is True
    assert _status_field(Payment).protected is True


@pytest.mark.django_db
def test_refresh_of_other_fields_keeps_the_status(customer, store):
    order = submit(customer, store, Menu(store))
    Order.objects.filter(pk=order.pk).update(note="extra spicy")
    order.refresh_from_db(fields=["note"])
    assert order.note == "extra spicy" and order.status == OrderStatus.PENDING_PAYMENT
    with pytest.raises(AttributeError):
        order.status = OrderStatus.PAID


@pytest.mark.django_db
def test_refresh_works_on_the_history_model(customer, store):
    order = submit(customer, store, Menu(store))
    record = order.history.get()
    record.refresh_from_db()
    assert record.status == OrderStatus.PENDING_PAYMENT


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_never_see_the_field_unprotected(customer, store):
    """django-fsm-2's own refresh switches ``protected`` off on the shared field while it reloads,
    so another thread assigning through a transition at that moment failed at random."""
    order = paid_order(customer, store, Menu(store))
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []
    done: list[int] = []
    lock = threading.Lock()

    def work():
        count = 0
        try:
            start.wait(timeout=10)
            for i in range(ITERATIONS):
                loaded = Order.objects.get(pk=order.pk)
                loaded.refresh_from_db(fields=["status"] if i % 2 else None)
                assert loaded.status == OrderStatus.PAID
                loaded.start()  # assigns the status through the transition
                loaded.recall_start()
                assert loaded.status == OrderStatus.PAID
                try:
                    loaded.status = OrderStatus.COMPLETED
                except AttributeError:
                    pass
                else:
                    raise AssertionError("the status was assignable")
                count += 1
        except BaseException as exc:  # reported by the main thread
            with lock:
                errors.append(exc)
        finally:
            with lock:
                done.append(count)
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert done == [ITERATIONS] * THREADS
    assert _status_field(Order).protected is True
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
