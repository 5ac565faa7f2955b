"""The canteen's word on the menu: which dishes suit a member's dietary needs and allergies.

Registered as a menu advisor of ``ordering`` (``ordering.panels.register_menu_advisor``, from
``CanteenConfig.ready``), so ordering never imports canteen. For a member whose organisation the
store serves, a dish suits when it carries the tag of every need the member recorded
(``vegetarian``, ``halal``, ``low_sugar``, ``low_salt``: the tag codes equal the need values) and
none of the member's allergens; each conflict becomes a warning ("Contains peanuts", "Not
vegetarian"). Anybody else, and a member who recorded nothing, gets no advice: their menu is the
plain one.

Reads the dishes' tags and allergens from the menu rows (``stores.selectors.MenuDish``): at most
three queries per page (membership, the store, the allergies), whatever the number of dishes.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import DietaryNeed, Member
from .selectors import member_for_user, member_serves

# Need value -> the dish tag a suiting dish carries (the same code) and the warning when it lacks it.
NOT_MET = {
    DietaryNeed.VEGETARIAN: gettext_lazy("Not vegetarian"),
    DietaryNeed.HALAL: gettext_lazy("Not halal"),
    DietaryNeed.LOW_SUGAR: gettext_lazy("Not low in sugar"),
    DietaryNeed.LOW_SALT: gettext_lazy("Not low in salt"),
}


@dataclass(frozen=True)
class DietProfile:
    needs: tuple[str, ...]  # known DietaryNeed values, in a fixed order
    allergens: frozenset[str]  # allergen codes

    @property
    def is_empty(self) -> bool:
        return not self.needs and not self.allergens


def diet_profile(member: Member) -> DietProfile:
    """What the member recorded (1 query: the allergies). Unknown need values are ignored."""
    recorded = set(member.dietary_needs or ())
    needs = tuple(need.value for need in DietaryNeed if need.value in recorded)
    allergens = frozenset(member.allergies.values_list("code", flat=True))
    return DietProfile(needs=needs, allergens=allergens)


def dish_advice(profile: DietProfile, dish) -> dict:
    """``{"suits": bool, "warnings": [str]}`` for one menu dish: allergens first, then unmet needs."""
    tags = {tag.code for tag in dish.tags}
    warnings = [_("Contains %(allergen)s") % {"allergen": allergen.name.lower()}
                for allergen in dish.allergens if allergen.code in profile.allergens]
    warnings += [str(NOT_MET[need]) for need in profile.needs if need not in tags]
    return {"suits": not warnings, "warnings": warnings}


def menu_advisor(request, store, dishes) -> dict[int, dict]:
    """The ordering menu advisor: advice on every dish for a member served by ``store``, else none."""
    member = member_for_user(getattr(request, "user", None))
    if member is None or not member_serves(member, store):
        return {}
    profile = diet_profile(member)
    if profile.is_empty:
        return {}
    return {dish.id: dish_advice(profile, dish) for dish in dishes}
