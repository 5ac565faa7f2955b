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
