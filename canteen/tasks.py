"""Celery tasks of canteens: call one service, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from .services import monthly_grants_run


@shared_task(name="canteen.tasks.monthly_grants_task")
def monthly_grants_task() -> dict[str, int]:
    """Hourly (beat): this month's subsidy for every active member, and before it the month-end
    expiry where the organisation's subsidy expires. The ledger allows one grant and one expiry
    per member and month, so every run after the first of a month makes nothing; running hourly
    only means a new month (or a member added during it) is granted within the hour, and a run
    missed while the worker was down is made up by the next. Returns the counts made now."""
    return monthly_grants_run()
