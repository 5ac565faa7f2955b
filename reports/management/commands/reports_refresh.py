"""Rebuild the reports' daily rollups for a range of business days (a backfill after deploying)."""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError

from reports.services import MAX_REFRESH_DAYS, rollups_refresh
from stores.selectors import local_now


class Command(BaseCommand):
    help = "Rebuild the HQ analytics rollups: the last --days business days, or --start..--end."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=2, help="the last N business days up to today (default 2)")
        parser.add_argument("--start", type=date.fromisoformat, help="first business day (YYYY-MM-DD)")
        parser.add_argument("--end", type=date.fromisoformat, help="last business day (YYYY-MM-DD, default today)")

    def handle(self, *args, days, start, end, **options):
        end = end or local_now().date()
        if start is None:
            if days < 1:
                raise CommandError("--days must be 1 or more.")
            start = end - timedelta(days=days - 1)
        if start > end:
            raise CommandError("--start must not be after --end.")
        # Long backfills go in chunks, each its own transaction.
        chunk_start = start
        while chunk_start <= end:
            chunk_end = min(end, chunk_start + timedelta(days=MAX_REFRESH_DAYS - 1))
            written = rollups_refresh(start=chunk_start, end=chunk_end)
            self.stdout.write(f"{chunk_start}..{chunk_end}: " + ", ".join(f"{k} {v}" for k, v in written.items()))
            chunk_start = chunk_end + timedelta(days=1)
