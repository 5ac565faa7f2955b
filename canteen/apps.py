from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CanteenConfig(AppConfig):
    name = "canteen"
    verbose_name = _("Canteens")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The meal_subsidy channel joins the payments registry; the demo gains an organisation.
        from . import demo, gateway  # noqa: F401
