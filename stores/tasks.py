"""Celery tasks of the stores app: take ids, call one service, safe to run twice."""

from celery import shared_task

from .services import stock_restore_daily


@shared_task(name="stores.tasks.stock_restore_daily_task")
def stock_restore_daily_task(store_ids: list[int] | None = None) -> int:
    """Nightly: put every override's stock back to its daily stock. Returns the rows changed."""
    return stock_restore_daily(store_ids=store_ids).count
