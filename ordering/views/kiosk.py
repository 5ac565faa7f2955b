"""The self-order kiosk of a store: a touch layout with no login and its own session cart.

Only an enrolled tablet opens the kiosk: a store manager (or other staff of the store) opens
``/kiosk/<store>/setup/`` on it once, which leaves a signed, long-lived cookie naming the store.
Without it the kiosk pages explain how to set the tablet up, so a stranger who finds the URL
cannot place unpaid orders that hold the store's stock.

Orders are placed with ``source=kiosk`` and no customer (``actor=None``), as pickup at the counter
("eat here" or "take away" goes into the note for the kitchen). The end screen shows the order
number, the amount and a QR code of the pay page, then returns to the menu by itself.
"""

from __future__ import annotations

import logging
from functools import wraps

import segno
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.api import DomainError
from config.net import client_ip
from stores.models import FulfilmentMode
from stores.selectors import store_menu

from ..cart import Cart
from ..forms import KioskCheckoutForm
from ..models import Order, OrderSource
from ..services import order_submit
from .cart import (
    cart_action,
    checkout_token,
    pay_url,
    remember_submitted,
    render_menu,
    store_or_404,
    submitted_order_id,
    token_is_current,
)
from .kitchen import staff_screen

logger = logging.getLogger(__name__)

KIOSK_ORDERS_KEY = "ordering.kiosk_orders"
END_SCREEN_SECONDS = 60
KIOSK_COOKIE = "kiosk_device"
KIOSK_COOKIE_SALT = "ordering.kiosk"
KIOSK_COOKIE_AGE = 365 * 24 * 3600


def kiosk_enrolled(request, store_code: str) -> bool:
    value = request.get_signed_cookie(KIOSK_COOKIE, default=None, salt=KIOSK_COOKIE_SALT, max_age=KIOSK_COOKIE_AGE)
    return value == store_code


def enrolled_kiosk(view):
    """Answer the setup explanation (403) unless this browser is the store's enrolled kiosk."""

    @wraps(view)
    def wrapper(request, store_code: str, *args, **kwargs):
        if not kiosk_enrolled(request, store_code):
            store = store_or_404(store_code)
            return render(request, "ordering/kiosk_not_enrolled.html", {"store": store}, status=403)
        return view(request, store_code, *args, **kwargs)

    return wrapper


@never_cache
@require_http_methods(["GET", "POST"])
@staff_screen
def kiosk_setup(request, store):
    """Staff of the store turn this browser into the store's kiosk (or turn it back)."""
    enrolled = kiosk_enrolled(request, store.code)
    if request.method == "POST":
        if request.POST.get("action") == "remove":
            response = redirect("ordering:kiosk-setup", store_code=store.code)
            response.delete_cookie(KIOSK_COOKIE)
            messages.success(request, _("This device is no longer a kiosk."))
            return response
        response = redirect("ordering:kiosk", store_code=store.code)
        response.set_signed_cookie(
            KIOSK_COOKIE, store.code, salt=KIOSK_COOKIE_SALT, max_age=KIOSK_COOKIE_AGE,
            httponly=True, samesite="Lax", secure=request.is_secure(),
        )
        logger.info("kiosk enrolled for store %s by user %s", store.code, request.user.pk)
        return response
    return render(request, "ordering/kiosk_setup.html", {"store": store, "enrolled": enrolled})


@never_cache
@require_GET
@enrolled_kiosk
def kiosk_menu(request, store_code: str):
    store = store_or_404(store_code)
    cart = Cart(request.session, store.code, kiosk=True)
    return render_menu(request, store, cart, kiosk=True, template="ordering/kiosk.html")


@require_POST
@enrolled_kiosk
def kiosk_cart_add(request, store_code: str):
    return cart_action(request, store_code, "add", kiosk=True)


@require_POST
@enrolled_kiosk
def kiosk_cart_update(request, store_code: str):
    return cart_action(request, store_code, "update", kiosk=True)


@require_POST
@enrolled_kiosk
def kiosk_cart_remove(request, store_code: str):
    return cart_action(request, store_code, "remove", kiosk=True)


def _done_redirect(store_code: str, order_id):
    return redirect("ordering:kiosk-done", store_code=store_code, order_id=order_id)


@never_cache
@require_http_methods(["GET", "POST"])
@enrolled_kiosk
def kiosk_checkout(request, store_code: str):
    store = store_or_404(store_code)
    cart = Cart(request.session, store.code, kiosk=True)
    posted_token = request.POST.get("token", "") if request.method == "POST" else ""
    done = submitted_order_id(request.session, posted_token)
    if done is not None:
        return _done_redirect(store.code, done)
    if not cart.lines:
        return redirect("ordering:kiosk", store_code=store.code)

    summary = cart.summary(store_menu(store=store))
    form = KioskCheckoutForm(request.POST or None)
    errors: list[str] = []
    renew = False
    if request.method == "POST":
        if not form.is_valid():
            errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        elif not token_is_current(request.session, cart.key, form.cleaned_data["token"]):
            errors, renew = [_("This page had expired. Check your order and try again.")], True
        elif summary.problems:
            errors = [
                _("Some dishes cannot be ordered: %(dishes)s")
                % {"dishes": ", ".join(f"{line.name} ({line.problem})" for line in summary.problems)}
            ]
        else:
            here = form.cleaned_data["dining"] == KioskCheckoutForm.HERE
            token = form.cleaned_data["token"]
            try:
                result = order_submit(
                    actor=None,
                    store=store,
                    fulfilment=FulfilmentMode.PICKUP,
                    lines=cart.line_requests(),
                    note=_("Eat here") if here else _("Take away"),
                    source=OrderSource.KIOSK,
                    idempotency_key=token,
                    ip=client_ip(request),
                )
            except DomainError as exc:
                errors = [str(exc.message)]
            else:
                remember_submitted(request.session, cart, token, result.order)
                orders = [*request.session.get(KIOSK_ORDERS_KEY, []), str(result.order.pk)][-20:]
                request.session[KIOSK_ORDERS_KEY] = orders
                return _done_redirect(store.code, result.order.pk)
    token = checkout_token(request.session, cart.key, renew=renew)
    return render(request, "ordering/kiosk_checkout.html", {
        "store": store,
        "cart": summary,
        "errors": errors,
        "token": token,
        "kiosk": True,
    })


@never_cache
@require_GET
@enrolled_kiosk
def kiosk_done(request, store_code: str, order_id):
    """The end screen: only for orders this kiosk's session placed."""
    store = store_or_404(store_code)
    if str(order_id) not in request.session.get(KIOSK_ORDERS_KEY, []):
        raise Http404(_("No such order."))
    order = Order.objects.filter(pk=order_id, store=store, source=OrderSource.KIOSK).first()
    if order is None:
        raise Http404(_("No such order."))
    url = request.build_absolute_uri(pay_url(order.pk))
    qr_svg = mark_safe(segno.make(url).svg_inline(scale=6))  # noqa: S308 - generated by segno from our URL
    return render(request, "ordering/kiosk_done.html", {
        "store": store,
        "order": order,
        "pay_url": url,
        "qr_svg": qr_svg,
        "seconds": END_SCREEN_SECONDS,
        "kiosk": True,
    })

