"""Celery tasks of reports: rebuild the rollups (whole days, so safe to run twice)."""

from celery import shared_task

from .services import rollups_refresh_recent


@shared_task(name="reports.tasks.rollups_refresh_recent_task")
def rollups_refresh_recent_task(days: int = 2) -> dict[str, int]:
    """Every few minutes today and yesterday; nightly the last 8 days (late refunds, fixes)."""
    return rollups_refresh_recent(days=days)
