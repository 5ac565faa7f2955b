"""Panels that apps further down the chain add to the customer's order page.

``ordering`` must not import the apps that depend on it (refunds, canteen), yet the order page
should show their part: the refund requests of the order and the "ask for a refund" button.
An app registers a function ``(request, order) -> Panel | None`` in its ``AppConfig.ready``;
the order page renders each panel's template with its context, in registration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Panel:
    template: str
    context: dict = field(default_factory=dict)


_providers: list[Callable] = []


def register(provider: Callable) -> Callable:
    if provider not in _providers:
        _providers.append(provider)
    return provider


def panels_for(request, order) -> list[Panel]:
    return [panel for provider in _providers if (panel := provider(request, order)) is not None]


# --- Menu advice ------------------------------------------------------------------------------
#
# The same pattern for the customer's menu: an app registers ``(request, store, dishes) -> dict``
# returning ``{dish_id: {"suits": bool, "warnings": [str, ...]}}`` for the dishes it has an opinion
# on (canteen: the member's dietary needs and allergies), or ``{}`` for none. No advisor with an
# opinion: the menu is shown exactly as without advisors.


@dataclass(frozen=True)
class DishAdvice:
    suits: bool
    warnings: tuple[str, ...] = ()


_menu_advisors: list[Callable] = []


def register_menu_advisor(advisor: Callable) -> Callable:
    if advisor not in _menu_advisors:
        _menu_advisors.append(advisor)
    return advisor


def menu_advice(request, store, dishes) -> dict[int, DishAdvice]:
    """Every advisor's word on ``dishes``, merged: a dish suits when every advisor says so."""
    dishes = list(dishes)
    merged: dict[int, DishAdvice] = {}
    for advisor in _menu_advisors:
        for dish_id, advice in (advisor(request, store, dishes) or {}).items():
            warnings = tuple(str(w) for w in advice.get("warnings") or ())
            suits = bool(advice.get("suits")) and not warnings
            earlier = merged.get(dish_id)
            if earlier is not None:
                suits, warnings = earlier.suits and suits, earlier.warnings + warnings
            merged[dish_id] = DishAdvice(suits=suits, warnings=warnings)
    return merged
