"""Refund pages: the customer's refund form (from the order page), the refund's status page
with its timeline, withdraw and the choice after a failure, their refunds; and the store
counter, where staff ask for a refund of a customer's online order.

Thin: validate -> one service or selector call -> render. Refusals are shown on the page with
the service's message and change nothing. Another customer's order or refund answers like an
unknown one (404). The status block polls itself with HTMX until the refund is final.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.api import DomainError
from config.net import client_ip
from ordering.errors import OrderNotFound
from ordering.models import Order
from ordering.panels import Panel
from ordering.selectors import order_get_for_customer, order_get_for_staff
from ordering.views.kitchen import staff_screen
from ordering.views.orders import HTMX_STOP_POLLING
from stores.models import Store

from . import selectors, services
from .errors import RefundNotFound
from .forms import DestinationForm, RefundForm
from .models import RefundStatus

POLL_SECONDS = 3
# No poll once nothing more happens by itself (a failed refund waits for the customer's choice).
STILL_MOVING = (RefundStatus.REQUESTED, RefundStatus.PENDING_REVIEW, RefundStatus.APPROVED, RefundStatus.PROCESSING)


def order_panel(request, order: Order) -> Panel | None:
    """The order page's refund part: this order's requests and the way to ask for one."""
    if not request.user.is_authenticated or order.customer_id != request.user.pk:
        return None
    refunds = selectors.refund_list_for_order(order)
    refusal = selectors.refund_refusal(order)
    if not refunds and refusal:
        return None  # nothing to show on an unpaid or cancelled order
    return Panel("refunds/_order_panel.html", {"order": order, "refunds": refunds, "refusal": refusal})


# --- asking -------------------------------------------------------------------------------


def _code_status(request, order, *, staff: bool):
    try:
        sent_to = services.refund_code_send(actor=request.user, order_id=order.pk, ip=client_ip(request))
    except DomainError as exc:
        return {"sent": False, "errors": [exc.message]}, exc.status_code
    return {"sent": True, "sent_to": sent_to, "staff": staff}, 200


def _refund_form(request, order: Order, *, template: str, context: dict, staff: bool, done):
    """GET: the form. POST with ``send_code``: send the SMS code. POST: ask for the refund."""
    refundable = selectors.order_refundable(order)
    refusal = selectors.refund_refusal(order)
    base = {**context, "order": order, "refundable": refundable, "refusal": refusal,
            "collected": order.status == "completed", "staff": staff}
    if request.method == "GET" or refusal:
        form = RefundForm(refundable=refundable)
        return render(request, template, {**base, "form": form}, status=409 if refusal and request.method == "POST"
                      else 200)
    form = RefundForm(request.POST, refundable=refundable)
    if "send_code" in request.POST:
        code_status, status = _code_status(request, order, staff=staff)
        if request.htmx:
            return render(request, "refunds/_code_status.html", {"code_status": code_status}, status=status)
        return render(request, template, {**base, "form": form, "code_status": code_status}, status=status)
    if not form.is_valid():
        return render(request, template, {**base, "form": form}, status=400)
    if not form.cleaned_data.get("code"):
        form.add_error("code", _("Enter the code we sent by SMS (press “Send code” first)."))
        return render(request, template, {**base, "form": form}, status=400)
    try:
        refund = services.refund_request_create(
            actor=request.user, order_id=order.pk, lines=form.lines(), reason_code=form.cleaned_data["reason_code"],
            reason_text=form.cleaned_data["reason_text"], code=form.cleaned_data["code"], ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except (OrderNotFound, RefundNotFound) as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        form.add_error(None, exc.message)
        return render(request, template, {**base, "form": form}, status=exc.status_code)
    return done(refund)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def order_refund(request, order_id):
    try:
        order = order_get_for_customer(user=request.user, order_id=order_id)
    except OrderNotFound as exc:
        raise Http404(exc.message) from exc

    def done(refund):
        if refund.status == RefundStatus.PENDING_REVIEW:
            messages.info(request, _("Your request was sent to the store for review."))
        return redirect("refunds:refund-detail", refund_id=refund.pk)

    return _refund_form(request, order, template="refunds/refund_form.html", context={}, staff=False, done=done)


# --- following a refund -------------------------------------------------------------------


def _own_refund(request, refund_id):
    try:
        return selectors.refund_get_for_customer(user=request.user, refund_id=refund_id)
    except RefundNotFound as exc:
        raise Http404(exc.message) from exc


def status_context(refund) -> dict:
    view = selectors.refund_view(refund)
    moving = refund.status in STILL_MOVING
    return {
        "refund": refund, "view": view, "moving": moving, "poll_seconds": POLL_SECONDS,
        "version": f"{refund.status}-{'-'.join(str(share.status) for share in view.shares)}",
    }


@never_cache
@login_required
@require_GET
def refund_detail(request, refund_id):
    refund = _own_refund(request, refund_id)
    return render(request, "refunds/refund_detail.html", {
        **status_context(refund), "destination_form": DestinationForm(), "store": refund.order.store,
    })


@never_cache
@require_GET
def refund_status(request, refund_id):
    """The status block alone, for the HTMX poll: 204 when nothing changed since ``?v=``; a
    refund that stopped moving reloads the page (its choices after a failure are outside)."""
    if not request.user.is_authenticated:
        return HttpResponse(status=HTMX_STOP_POLLING)
    refund = _own_refund(request, refund_id)
    context = status_context(refund)
    if request.htmx and request.GET.get("v") == context["version"]:
        return HttpResponse(status=204)
    response = render(request, "refunds/_refund_status.html", context)
    if request.htmx and not context["moving"]:
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def refund_withdraw(request, refund_id):
    refund = _own_refund(request, refund_id)
    try:
        services.refund_withdraw(actor=request.user, refund_id=refund.pk, ip=client_ip(request))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your refund request was withdrawn."))
    return redirect("refunds:refund-detail", refund_id=refund.pk)


@login_required
@require_POST
def refund_destination(request, refund_id):
    refund = _own_refund(request, refund_id)
    form = DestinationForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            services.refund_change_destination(actor=request.user, refund_id=refund.pk, ip=client_ip(request),
                                               **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status_code
        else:
            messages.success(request, _("Thank you: the money is on its way to the new destination."))
            return redirect("refunds:refund-detail", refund_id=refund.pk)
    refund = _own_refund(request, refund_id)
    return render(request, "refunds/refund_detail.html", {
        **status_context(refund), "destination_form": form, "store": refund.order.store,
    }, status=status)


@never_cache
@login_required
@require_GET
def refund_list(request):
    return render(request, "refunds/refund_list.html", {"refunds": selectors.refunds_of_customer(request.user)})


# --- the store counter --------------------------------------------------------------------


@never_cache
@require_GET
@staff_screen
def counter_refunds(request, store: Store):
    query = request.GET.get("q", "")
    orders = selectors.counter_orders_find(store=store, query=query) if query else []
    return render(request, "refunds/counter_refunds.html", {
        "store": store, "query": query, "orders": orders, "searched": bool(query),
        "recent": selectors.counter_refunds_recent(store=store),
    })


@never_cache
@require_http_methods(["GET", "POST"])
@staff_screen
def counter_refund(request, store: Store, order_id):
    try:
        order = order_get_for_staff(user=request.user, order_id=order_id)
    except OrderNotFound as exc:
        raise Http404(exc.message) from exc
    if order.store_id != store.pk or order.customer_id is None:
        raise Http404(_("No such order."))

    def done(refund):
        messages.success(request, _("Refund %(number)s: %(status)s.") % {
            "number": refund.display_number, "status": refund.get_status_display()})
        return redirect(request.path)

    return _refund_form(request, order, template="refunds/counter_refund.html",
                        context={"store": store, "refunds": selectors.refund_list_for_order(order)},
                        staff=True, done=done)

