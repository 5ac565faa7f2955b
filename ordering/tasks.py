"""Celery tasks of ordering: take ids, call one service, safe to run twice."""

from celery import shared_task

from .services import orders_expire_due


@shared_task(name="ordering.tasks.orders_expire_due_task")
def orders_expire_due_task() -> int:
    """Every 30 s: cancel unpaid orders past their time and give their stock back."""
    return orders_expire_due()
