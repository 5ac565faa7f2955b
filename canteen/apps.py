from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CanteenConfig(AppConfig):
    name = "canteen"
    verbose_name = _("Canteens")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The meal_subsidy channel joins the payments registry; the demo gains an organisation;
        # the member's dietary needs mark, filter and warn on the ordering menu (a menu advisor).
        from ordering.panels import register_menu_advisor

        from . import demo, gateway  # noqa: F401
        from .dietary import menu_advisor

        register_menu_advisor(menu_advisor)
