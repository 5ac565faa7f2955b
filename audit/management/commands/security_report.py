"""``manage.py security_report``: write the security reports now (the platform's and each active
brand's, for the last 72 hours), whatever the schedule says, and print where they can be read.
The hourly task (``security_reports_due``) then writes the next ones 72 hours after these."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from audit.security import PERIOD, security_reports_write


class Command(BaseCommand):
    help = "Write the security reports of the last 72 hours now (the platform's and each brand's)."

    def handle(self, *args, **options):
        end = timezone.now()
        for report in security_reports_write(start=end - PERIOD, end=end):
            verdict = "intact" if report.chain_ok else "BROKEN"
            whose = f"brand {report.brand_id}" if report.brand_id else "platform"
            self.stdout.write(f"security report {report.pk} ({whose}): {report}; audit chain {verdict}; "
                              f"admin: /admin/audit/securityreport/{report.pk}/change/")
