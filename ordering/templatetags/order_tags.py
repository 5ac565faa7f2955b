"""Template filters for the customer's order pages: the pickup code's QR code."""

from django import template
from django.utils.safestring import mark_safe

register = template.Library()


@register.filter
def qr_svg(text, scale: int = 5) -> str:
    """``"123456"`` -> an inline ``<svg>`` QR code of it (a full QR code, which every phone
    camera and counter scanner reads; segno would pick a Micro QR for six digits). It has a
    viewBox and no fixed size, so CSS sizes it."""
    import segno  # imported lazily: only pages with a pickup code need it

    text = "" if text is None else str(text)
    if not text:
        return ""
    try:
        scale = max(1, min(int(scale), 20))
    except (TypeError, ValueError):
        scale = 5
    svg = segno.make(text, micro=False).svg_inline(scale=scale, svgclass="qr", title=text, omitsize=True)
    return mark_safe(svg)  # noqa: S308 - segno escapes the title; the rest is path data
