"""Store staff screens: the kitchen display (KDS), the pickup screen and the redemption counter (核销).

Thin views: check that the user may use this store's screens, call one service, render. HTMX
polls the boards and swaps fragments in place; without JavaScript every form still works (a
POST, then a redirect with a message or the full page).

Who may open a store's screens: staff whose ``store_ids_visible_to`` holds the store (kitchen
staff and store managers of the store, HQ managers of its brand, superusers). Anonymous users
go to the staff login; anybody else (customers, frozen users, canteen staff) gets a 403 page;
a store the user does not work at answers like an unknown one (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from config.api import DomainError
from config.net import client_ip
from payments.services import payment_create
from stores.models import Store
from stores.selectors import store_ids_visible_to

from .. import selectors, services
from ..models import Order, OrderStatus

STAFF_LOGIN_URL = "admin:login"
REFERENCE_MAX = 64


# --- Access ---


def _login_redirect(request):
    login_url = reverse(STAFF_LOGIN_URL)
    if request.htmx:
        # A poll or a button of a page whose session ended: send the whole page to the login.
        page = request.htmx.current_url_abs_path or request.get_full_path()
        return HttpResponseClientRedirect(f"{login_url}?next={quote(page)}")
    return redirect_to_login(request.get_full_path(), login_url)


def _denied(request):
    if request.htmx:
        # Reload the page, which then shows why (frozen, reassigned, ...).
        response = HttpResponseClientRefresh()
        response.status_code = 403
        return response
    return render(request, "ordering/kitchen_denied.html", status=403)


def staff_screen(view):
    """Resolve ``store_code`` to a store this user may use, or answer login / 403 / 404."""

    @wraps(view)
    def wrapper(request, store_code: str, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return _login_redirect(request)
        visible = store_ids_visible_to(user)
        if visible is not None and not visible:  # customers, frozen users, unassigned staff
            return _denied(request)
        store = Store.objects.select_related("brand").filter(code=store_code).first()
        if store is None or (visible is not None and store.pk not in visible):
            if request.htmx:
                return HttpResponseClientRefresh()
            raise Http404(_("No such store."))
        return view(request, store, *args, **kwargs)

    return wrapper


# --- Kitchen display ---


@dataclass(frozen=True)
class Ticket:
    order: Order
    colour: str
    late: bool
    elapsed: str  # "mm:ss" since payment, at render time; kitchen.js keeps it counting
    paid_at_ms: int


@dataclass(frozen=True)
class Lane:
    key: str  # new | preparing | ready
    title: str
    status: str
    tickets: list[Ticket]


def _elapsed(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def _board_context(store: Store, *, now=None) -> dict:
    board = selectors.kitchen_board(store=store, now=now)
    late = board.waiting_too_long
    late_ids = {order.pk for order in late}
    prep = store.prep_time_minutes

    def ticket(order: Order) -> Ticket:
        started = order.paid_at or order.created_at
        return Ticket(
            order=order,
            colour=selectors.ticket_colour(order, prep_minutes=prep, now=board.now),
            late=order.pk in late_ids,
            elapsed=_elapsed((board.now - started).total_seconds()),
            paid_at_ms=int(started.timestamp() * 1000),
        )

    lanes = [
        Lane("new", _("New"), OrderStatus.PAID, [ticket(o) for o in board.new]),
        Lane("preparing", _("Preparing"), OrderStatus.PREPARING, [ticket(o) for o in board.preparing]),
        Lane("ready", _("Ready"), OrderStatus.READY, [ticket(o) for o in board.ready]),
    ]
    return {
        "store": store,
        "screen": "kitchen",
        "lanes": lanes,
        "late": late,
        "alert_minutes": store.brand.kitchen_alert_minutes,
        "prep_minutes": prep,
        "now_ms": int(board.now.timestamp() * 1000),
    }


@never_cache
@require_GET
@staff_screen
def kitchen(request, store: Store):
    return render(request, "ordering/kitchen.html", _board_context(store))


@never_cache
@require_GET
@staff_screen
def kitchen_board(request, store: Store):
    """The three lanes alone: what the kitchen page polls every 2 seconds."""
    return render(request, "ordering/_kitchen_board.html", _board_context(store))


def _after_kitchen_action(request, store: Store, *, error: DomainError | None = None, success: str = ""):
    """HTMX: the board and the message (409 for a stale click). Without JavaScript: back to the
    page with the message after a success, the page itself with the refusal after a failure."""
    if not request.htmx and error is None:
        messages.success(request, success)
        return redirect("ordering:kitchen", store_code=store.code)
    context = {**_board_context(store), "flash_error": error.message if error else "", "flash_success": success}
    status = error.status_code if error is not None else 200
    template = "ordering/_kitchen_action.html" if request.htmx else "ordering/kitchen.html"
    return render(request, template, context, status=status)


BUMP_DONE = {
    "start": gettext_lazy("Order %(number)s: preparing."),
    "ready": gettext_lazy("Order %(number)s: ready for pickup."),
}


@never_cache
@require_POST
@staff_screen
def kitchen_bump(request, store: Store, order_id):
    move = request.POST.get("move", "")
    try:
        order = services.order_bump(actor=request.user, order_id=order_id, move=move, ip=client_ip(request))
    except DomainError as exc:
        return _after_kitchen_action(request, store, error=exc)
    return _after_kitchen_action(request, store, success=str(BUMP_DONE[move] % {"number": order.display_number}))


@never_cache
@require_POST
@staff_screen
def kitchen_recall(request, store: Store, order_id):
    expected = request.POST.get("expected_status", "")
    if expected not in (OrderStatus.PREPARING, OrderStatus.READY):
        expected = None
    try:
        order = services.order_recall(
            actor=request.user, order_id=order_id, expected_status=expected, ip=client_ip(request)
        )
    except DomainError as exc:
        return _after_kitchen_action(request, store, error=exc)
    message = _("Order %(number)s recalled to %(status)s.") % {
        "number": order.display_number, "status": order.get_status_display(),
    }
    return _after_kitchen_action(request, store, success=message)


# --- Pickup screen ---


def _pickup_context(store: Store) -> dict:
    return {"store": store, "screen": "pickup", "board": selectors.pickup_board(store=store)}


@never_cache
@require_GET
@staff_screen
def pickup_screen(request, store: Store):
    return render(request, "ordering/pickup.html", _pickup_context(store))


@never_cache
@require_GET
@staff_screen
def pickup_board(request, store: Store):
    return render(request, "ordering/pickup_board.html", _pickup_context(store))


# --- Counter: redeem pickup codes, take kiosk payments ---


class CounterPaymentForm(forms.Form):
    reference = forms.CharField(
        label=gettext_lazy("Receipt or terminal reference"), required=False, max_length=REFERENCE_MAX,
        strip=True,
    )


def _counter_context(store: Store, **extra) -> dict:
    return {
        "store": store,
        "screen": "counter",
        "kiosk_orders": list(selectors.kiosk_orders_awaiting_payment(store=store)),
        **extra,
    }


@never_cache
@require_GET
@staff_screen
def counter(request, store: Store):
    return render(request, "ordering/counter.html", _counter_context(store))


@never_cache
@require_GET
@staff_screen
def counter_kiosk(request, store: Store):
    """The unpaid kiosk orders alone: what the counter page polls."""
    return render(request, "ordering/counter_kiosk.html", _counter_context(store))


@never_cache
@require_POST
@staff_screen
def counter_redeem(request, store: Store):
    # Staff may type "123 456": spaces are not part of the code. The service judges the rest.
    code = "".join(request.POST.get("pickup_code", "")[:32].split())
    result: dict = {"code": code}
    status = 200
    try:
        order = services.order_redeem(actor=request.user, store=store, pickup_code=code, ip=client_ip(request))
    except DomainError as exc:
        result.update(error=exc.message, error_code=exc.code)
        status = exc.status_code
    else:
        result.update(order=order, lines=list(order.lines.order_by("position")))
    if request.htmx:
        return render(request, "ordering/counter_result.html", {"store": store, "result": result}, status=status)
    return render(request, "ordering/counter.html", _counter_context(store, result=result), status=status)


@never_cache
@require_POST
@staff_screen
def counter_pay(request, store: Store, order_id):
    """The "Paid at counter" button of a kiosk order: records a counter payment, which moves it to paid."""
    form = CounterPaymentForm(request.POST)
    error = success = ""
    status = 200
    if not form.is_valid():
        error, status = " ".join(form.errors.get("reference", [])), 400
    else:
        try:
            result = payment_create(
                actor=request.user, order_id=order_id, channel="counter",
                params={"reference": form.cleaned_data["reference"]}, ip=client_ip(request),
            )
        except DomainError as exc:
            error, status = str(exc.message), exc.status_code
        else:
            order = result.payment.order
            if result.order_paid:
                success = _("Order %(number)s is paid (pickup code %(code)s) and sent to the kitchen.") % {
                    "number": order.display_number, "code": order.pickup_code,
                }
            else:
                success = _("Payment recorded for order %(number)s; part of it is still to pay.") % {
                    "number": order.display_number,
                }
    if not request.htmx and not error:
        messages.success(request, success)
        return redirect("ordering:counter", store_code=store.code)
    context = _counter_context(store, pay_error=error, pay_success=success)
    template = "ordering/counter_pay_result.html" if request.htmx else "ordering/counter.html"
    return render(request, template, context, status=status)

