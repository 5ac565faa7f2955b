"""Signal receivers that keep the menu cache right: any change of a menu row bumps its version.

Cache invalidation only; no business logic lives here. Connected in ``StoresConfig.ready``.
"""

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from .cache import menu_changed
from .models import Allergen, Dish, MenuCategory, Option, OptionGroup, Tag

BRAND_MENU_MODELS = (Dish, MenuCategory, OptionGroup, Option)
VOCABULARY_MODELS = (Tag, Allergen)


def _brand_row_changed(sender, instance, **kwargs):
    menu_changed(instance.brand_id)


def _vocabulary_row_changed(sender, instance, **kwargs):
    menu_changed(None)


for _model in BRAND_MENU_MODELS:
    post_save.connect(_brand_row_changed, sender=_model, dispatch_uid=f"stores.menu_cache.save.{_model.__name__}")
    post_delete.connect(_brand_row_changed, sender=_model, dispatch_uid=f"stores.menu_cache.delete.{_model.__name__}")
for _model in VOCABULARY_MODELS:
    post_save.connect(_vocabulary_row_changed, sender=_model, dispatch_uid=f"stores.menu_cache.save.{_model.__name__}")
    post_delete.connect(
        _vocabulary_row_changed, sender=_model, dispatch_uid=f"stores.menu_cache.delete.{_model.__name__}"
    )


@receiver(m2m_changed, sender=Dish.tags.through, dispatch_uid="stores.menu_cache.m2m.tags")
@receiver(m2m_changed, sender=Dish.allergens.through, dispatch_uid="stores.menu_cache.m2m.allergens")
@receiver(m2m_changed, sender=Dish.option_groups.through, dispatch_uid="stores.menu_cache.m2m.option_groups")
def _dish_links_changed(sender, instance, action, reverse, **kwargs):
    """A dish gained or lost a tag, allergen or option group (from either side of the relation)."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if isinstance(instance, (Dish, OptionGroup)):
        menu_changed(instance.brand_id)
    else:  # tag.dishes / allergen.dishes: the dishes may belong to any brand
        menu_changed(None)
