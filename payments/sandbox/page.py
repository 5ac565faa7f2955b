"""The payer page (``/pay/{trade_no}``): Django's template engine and gettext, no ORM.

The language is the one Django chose when the sandbox is mounted (passed in the environ as
``paysim.language``), else the browser's Accept-Language among ``settings.LANGUAGES``, else
``settings.LANGUAGE_CODE``.
"""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import trans_real

from .app import Response

TEMPLATE = "paysim/pay.html"


def payer_language(environ) -> str:
    chosen = environ.get("paysim.language")
    if chosen:
        return chosen
    for code, _quality in trans_real.parse_accept_lang_header(environ.get("HTTP_ACCEPT_LANGUAGE", "")):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def render_payer_page(environ, trade: dict | None, *, status: int = 200, problem: str = "",
                      action: str = "") -> Response:
    context = {"trade": trade, "problem": problem, "action": action,
               "payable": trade is not None and trade["status"] == "NOTPAY"}
    with translation.override(payer_language(environ)):
        html = render_to_string(TEMPLATE, context)
    return Response(status, html.encode("utf-8"), "text/html; charset=utf-8")
