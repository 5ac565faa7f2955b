from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RefundsConfig(AppConfig):
    name = "refunds"
    verbose_name = _("Refunds")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Follow the payments' refund attempts; contribute to the security report.
        from ordering import panels

        from . import receivers, security  # noqa: F401
        from .views import order_panel

        panels.register(order_panel)  # the order page shows its refunds and the way to ask
