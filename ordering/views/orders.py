"""The customer's order pages: one order (with a live status block), their orders, cancelling.

Thin: validate -> one selector or service call -> render. Another customer's order answers
exactly like an unknown one (404). The status block polls itself every few seconds with HTMX
and stops once the order is final; an unchanged status answers 204 (nothing to swap).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from config.api import DomainError
from config.net import client_ip

from ..errors import OrderNotFound
from ..models import Order, OrderStatus
from ..panels import panels_for
from ..selectors import order_get_for_customer, order_list_for_customer, order_money, order_payment_state
from ..services import order_cancel

ORDERS_PER_PAGE = 20
POLL_SECONDS = 3
FINAL_STATES = (OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REFUNDED)
# The progress line a customer sees; cancelled and refunded are shown as a notice instead.
PROGRESS = (
    OrderStatus.PENDING_PAYMENT,
    OrderStatus.PAID,
    OrderStatus.PREPARING,
    OrderStatus.READY,
    OrderStatus.COMPLETED,
)
# HTMX stops polling when it gets this status (https://htmx.org/docs/#polling).
HTMX_STOP_POLLING = 286


def _own_order(request, order_id) -> Order:
    try:
        return order_get_for_customer(user=request.user, order_id=order_id)
    except OrderNotFound as exc:
        raise Http404(exc.message) from exc


def _progress(order: Order) -> list[dict]:
    if order.status not in PROGRESS:
        return []
    current = PROGRESS.index(order.status)
    return [
        {
            "status": status,
            "label": status.label,
            "state": "done" if i < current else ("current" if i == current else "todo"),
        }
        for i, status in enumerate(PROGRESS)
    ]


def status_context(order: Order) -> dict:
    """What the status block shows; ``version`` changes whenever the block would look different."""
    money = order_money(order)
    now = timezone.now()
    pending = order.status == OrderStatus.PENDING_PAYMENT
    open_for_payment = pending and order.expires_at > now
    final = order.status in FINAL_STATES
    payment_state = order_payment_state(order) if pending else {"awaiting": False, "last_failed": None}
    return {
        **payment_state,
        "order": order,
        "money": money,
        "steps": _progress(order),
        "final": final,
        "pending": pending,
        "can_pay": open_for_payment and money.due > 0,
        "time_up": pending and not open_for_payment,
        "has_code": order.status in (OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY)
        and bool(order.pickup_code),
        "poll_seconds": POLL_SECONDS,
        "version": f"{order.status}-{money.paid}-{int(open_for_payment)}-{int(payment_state['awaiting'])}"
        f"-{payment_state['last_failed'].pk if payment_state['last_failed'] else ''}",
    }


@never_cache
@login_required
@require_GET
def order_detail(request, order_id):
    order = _own_order(request, order_id)
    return render(request, "ordering/order_detail.html", {
        **status_context(order), "lines": order.lines.all(), "panels": panels_for(request, order),
    })


@never_cache
@require_GET
def order_status(request, order_id):
    """The status block alone, for the HTMX poll: 204 when nothing changed since ``?v=``."""
    if not request.user.is_authenticated:
        if request.htmx:
            return HttpResponse(status=HTMX_STOP_POLLING)
        return redirect_to_login(request.get_full_path())
    order = _own_order(request, order_id)
    context = status_context(order)
    if request.htmx and request.GET.get("v") == context["version"]:
        return HttpResponse(status=204)
    return render(request, "ordering/_order_status.html", context)


@login_required
@require_POST
def order_cancel_view(request, order_id):
    order = _own_order(request, order_id)
    try:
        order_cancel(actor=request.user, order_id=order.pk, ip=client_ip(request))
    except OrderNotFound as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Order %(number)s was cancelled; nothing was charged.")
                         % {"number": order.display_number})
    return redirect("ordering:order-detail", order_id=order.pk)


@never_cache
@login_required
@require_GET
def order_list(request):
    page = Paginator(order_list_for_customer(user=request.user), ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "ordering/order_list.html", {"page_obj": page, "orders": page.object_list})
