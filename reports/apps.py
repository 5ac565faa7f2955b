from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "reports"
    verbose_name = _("HQ analytics")

    def ready(self):
        from . import demo  # noqa: F401  (seed_demo --history-days: order history, h7b)
