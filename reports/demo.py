"""reports' part of ``manage.py seed_demo``: order history for the dashboards and the forecast.

seed_demo sends ``history_days`` (its ``--history-days`` option) with ``demo_seeded``; stores
never imports reports. The history generator skips (store, day) pairs that already have history,
so running seed_demo again writes nothing; the rollups of the days written are rebuilt at once.
"""

from django.dispatch import receiver

from stores.demo import demo_seeded
from stores.demo_data import CHAIN
from stores.models import Brand

from .history import history_generate
from .services import rollups_refresh


@receiver(demo_seeded, dispatch_uid="reports.demo.history")
def seed_demo_history(sender, count, history_days: int = 0, **kwargs):
    brand = Brand.objects.filter(code=CHAIN.code).first()
    if not history_days or brand is None:
        return
    result = history_generate(brand=brand, days=history_days)
    if result.days_written:
        rollups_refresh(start=min(result.days_written), end=max(result.days_written))
    count("history orders", result.orders)
    count("history order lines", result.lines)
    count("history payments", result.payments)
    count("history refund requests", result.refund_requests)
