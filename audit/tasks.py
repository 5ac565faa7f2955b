"""Celery tasks of audit."""

from celery import shared_task


@shared_task(name="audit.tasks.security_reports_due_task")
def security_reports_due_task() -> list[int]:
    """Hourly (beat): write the security report when 72 hours have passed since the last one."""
    from .security import security_reports_due

    return [report.pk for report in security_reports_due()]
