"""``manage.py security_report``: write the security report now (for the last 72 hours, or since
the last report), whatever the schedule says, and print where it can be read."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from audit.security import PERIOD, security_report_generate


class Command(BaseCommand):
    help = "Write the security report of the last 72 hours now (platform-wide)."

    def handle(self, *args, **options):
        end = timezone.now()
        report = security_report_generate(brand_id=None, start=end - PERIOD, end=end)
        verdict = "intact" if report.chain_ok else "BROKEN"
        self.stdout.write(f"security report {report.pk}: {report}; audit chain {verdict}; "
                          f"admin: /admin/audit/securityreport/{report.pk}/change/")
