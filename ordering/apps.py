from django.apps import AppConfig
from django.utils.translation import pgettext_lazy


class OrderingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "ordering"
    verbose_name = pgettext_lazy("app name", "Ordering")  # not the admin's "ordering" (sort order)
