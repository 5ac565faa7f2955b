from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StoresConfig(AppConfig):
    name = "stores"
    verbose_name = _("Stores and menus")

    def ready(self):
        from . import converters, signals  # noqa: F401  ("code" URL converter, menu cache receivers)
