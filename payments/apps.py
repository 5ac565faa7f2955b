from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "payments"
    verbose_name = _("Payments")

    def ready(self):
        # The channels payments owns register themselves; other apps register theirs in their ready().
        from . import demo, receivers  # noqa: F401  (seed_demo's gift card; orders that end unpaid)
        from .gateways import builtin, corporate, paysim  # noqa: F401
