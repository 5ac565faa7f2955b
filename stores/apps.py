from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StoresConfig(AppConfig):
    name = "stores"
    verbose_name = _("Stores and menus")

    def ready(self):
        # The "code" URL converter, the menu cache receivers, its part of the security report.
        from . import converters, security, signals  # noqa: F401
