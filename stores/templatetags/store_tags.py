"""Template filters for the customer pages: money, distances, fulfilment modes, hours."""

from decimal import Decimal

from django import template
from django.utils.translation import gettext

from config.money import money as to_money
from stores.models import FulfilmentMode

register = template.Library()

def _decimal(value) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return to_money(value)
    except (ValueError, TypeError):
        return None


@register.filter
def money(value) -> str:
    """``Decimal("28")`` -> ``¥28.00``."""
    amount = _decimal(value)
    if amount is None:
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount):,.2f}"


@register.filter
def money_delta(value) -> str:
    """A price change: ``+¥2.00``, ``-¥1.00``, ``+¥0``."""
    amount = _decimal(value)
    if amount is None:
        return ""
    if amount == 0:
        return "+¥0"
    return f"+{money(amount)}" if amount > 0 else money(amount)


@register.filter
def distance(km) -> str:
    """``0.85`` -> ``850 m``; ``12.345`` -> ``12.3 km``."""
    if km is None:
        return ""
    km = float(km)
    if km < 1:
        return gettext("%(metres)d m") % {"metres": round(km * 1000)}
    return gettext("%(km)s km") % {"km": f"{km:.1f}"}


@register.filter
def mode_label(value: str) -> str:
    try:
        return str(FulfilmentMode(value).label)
    except ValueError:
        return value


@register.filter
def hours_label(hours) -> str:
    return f"{hours.opens:%H:%M}-{hours.closes:%H:%M}"
