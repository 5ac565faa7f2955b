from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrderingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ordering"
    verbose_name = _("Ordering")
