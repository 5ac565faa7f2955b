"""The customer's payment pages: pay an order (any channel the store enables), and gift cards.

Thin: validate -> one service call -> redirect or render. A refusal of the service (``DomainError``)
becomes a form error and nothing is changed. Paying twice is refused by ``payment_create`` under
the order's row lock (``already_paid`` / ``over_total``); the page only turns that into a message.

The pay page's status block (``_pay_status.html``) polls ``order_pay?part=status`` with HTMX every
``PAY_POLL_SECONDS`` while a payment of the order is waiting for its answer (pending, unknown),
so a customer back from the provider's page sees it paid, or why not, without reloading; an
unchanged block answers 204 and a final one (paid, cancelled, failed) stops the polling. The
return from the provider (``order_pay_return``) asks the provider at once; when the order is busy
(``PaymentBusy``) it sends the customer to that same page, which keeps confirming, never a 500.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from config.api import DomainError
from config.net import client_ip
from ordering.errors import OrderNotFound
from ordering.models import OrderStatus
from stores.templatetags.store_tags import money as money_label

from .errors import PaymentNotAllowed
from .forms import ANOTHER_CARD, GIFT_CARD, GiftCardBindForm, PayForm
from .gateways import registry
from .models import PaymentStatus
from .selectors import (
    gift_cards_of,
    gift_cards_to_pay_with,
    order_amount_due,
    order_payable_by,
    order_payments_in_flight,
)
from .services import gift_card_bind, payment_create, payment_split_create
from .services.provider import AMOUNT_MISMATCH, PaymentBusy, payment_sync
from .throttles import BIND_ATTEMPTS_PER_WINDOW, CardNumberThrottle

# Orders paid from this browser for a kiosk (no customer): their receipt shows the pickup code.
KIOSK_RECEIPTS_SESSION_KEY = "payments_kiosk_receipts"
KIOSK_RECEIPTS_KEPT = 20
PAY_POLL_SECONDS = 3
STATUS_PART = "status"  # ?part=status: the pay page's status block alone
HTMX_STOP_POLLING = 286  # HTMX stops polling on this status (https://htmx.org/docs/#polling)
PAID_STATES = (OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY, OrderStatus.COMPLETED)

# --- Paying an order ---


def _remember_kiosk_receipt(request, order) -> None:
    receipts = [r for r in request.session.get(KIOSK_RECEIPTS_SESSION_KEY, []) if r != str(order.pk)]
    request.session[KIOSK_RECEIPTS_SESSION_KEY] = [*receipts, str(order.pk)][-KIOSK_RECEIPTS_KEPT:]


def _after_payment(request, order):
    """Where a payer goes once the order is paid: their order page, or the kiosk receipt."""
    if order.customer_id == request.user.pk:
        return redirect("ordering:order-detail", order_id=order.pk)
    return redirect("payments:order-pay", order_id=order.pk)


def _after_external_start(request, order, result):
    """A payment opened at an external provider (or a bank transfer to make): send the payer on."""
    payment, action = result.payment, result.action
    if payment.status == PaymentStatus.SUCCEEDED:  # settled by a check before we got here
        return _after_payment(request, order)
    if payment.status == PaymentStatus.UNKNOWN:
        messages.warning(request, _(
            "%(channel)s did not answer in time. We are checking whether this payment went through; "
            "you will never be charged twice."
        ) % {"channel": payment.get_channel_display()})
    elif payment.status == PaymentStatus.FAILED:
        messages.error(request, _("%(channel)s refused this payment; nothing was charged. Please try again "
                                  "or choose another way to pay.") % {"channel": payment.get_channel_display()})
    elif action.kind == "redirect" and action.url:
        return redirect(action.url)
    return redirect("payments:order-pay", order_id=order.pk)


def _last_failed(order):
    """The order's latest payment, when it failed or was cancelled (to say why it is not paid)."""
    last = order.payments.order_by("-created_at").first()
    return last if last is not None and last.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED) else None


@never_cache
@login_required
@require_GET
def order_pay_return(request, order_id):
    """Where the provider's payer page sends the customer back: ask the provider about the
    order's waiting payments at once (rather than wait for its notification), then show the order."""
    try:
        order = order_payable_by(user=request.user, order_id=order_id)
    except OrderNotFound as exc:
        raise Http404(exc.message) from exc
    try:
        for payment in order_payments_in_flight(order)[:3]:
            if registry.get(payment.channel).polled:
                payment_sync(payment_id=payment.pk)
    except PaymentBusy:
        # The order is being settled right now (a notification, the checker): the pay page
        # shows the payment being confirmed and updates by itself.
        messages.info(request, _("We are still confirming your payment. This page updates by itself."))
        return redirect("payments:order-pay", order_id=order.pk)
    order.refresh_from_db()
    if order.status == OrderStatus.PENDING_PAYMENT:
        return redirect("payments:order-pay", order_id=order.pk)
    if order.customer_id != request.user.pk:
        _remember_kiosk_receipt(request, order)
    return _after_payment(request, order)


def _pay_status_context(request, order) -> dict:
    """What the pay page's status block shows; ``version`` changes whenever it would look different."""
    pending = order.status == OrderStatus.PENDING_PAYMENT
    due = order_amount_due(order)
    waiting = order_payments_in_flight(order) if pending else []
    last_failed = _last_failed(order) if pending and not waiting else None
    in_flight = pending and due <= 0
    is_own = order.customer_id == request.user.pk
    paid = order.status in PAID_STATES
    return {
        "order": order,
        "is_own": is_own,
        "due": due,
        "in_flight": in_flight,
        "waiting": [{"payment": p, "action": registry.get(p.channel).action_for(p)} for p in waiting],
        "last_failed": last_failed,
        "amount_mismatch": last_failed is not None and last_failed.failure_code == AMOUNT_MISMATCH,
        "paid": paid,
        "show_code": paid and bool(order.pickup_code) and (
            is_own or str(order.pk) in request.session.get(KIOSK_RECEIPTS_SESSION_KEY, [])),
        "payee": settings.PAYMENT_CORPORATE_PAYEE,
        "polling": pending and (bool(waiting) or in_flight),
        "poll_seconds": PAY_POLL_SECONDS,
        "version": "|".join([order.status, str(due), ",".join(f"{p.pk.hex}:{p.status}" for p in waiting),
                             last_failed.pk.hex if last_failed else ""]),
    }


def _order_pay_status(request, order_id):
    """The pay page's status block alone (``?part=status``), for the HTMX poll: 204 when nothing
    changed since ``?v=``. Once the order no longer awaits payment, it also removes the forms."""
    if not request.user.is_authenticated:
        if request.htmx:
            return HttpResponse(status=HTMX_STOP_POLLING)
        return redirect_to_login(request.get_full_path())
    try:
        order = order_payable_by(user=request.user, order_id=order_id)
    except OrderNotFound as exc:
        raise Http404(exc.message) from exc
    context = _pay_status_context(request, order)
    if request.htmx and request.GET.get("v") == context["version"]:
        return HttpResponse(status=204)
    return render(request, "payments/_pay_status.html",
                  {**context, "drop_forms": order.status != OrderStatus.PENDING_PAYMENT})


@never_cache
@require_http_methods(["GET", "POST"])
def order_pay(request, order_id):
    """The pay page; ``GET ?part=status`` answers its status block alone (the HTMX poll)."""
    if request.method == "GET" and request.GET.get("part") == STATUS_PART:
        return _order_pay_status(request, order_id)
    return _order_pay_page(request, order_id)


@login_required
def _order_pay_page(request, order_id):
    try:
        order = order_payable_by(user=request.user, order_id=order_id)
    except OrderNotFound as exc:
        raise Http404(exc.message) from exc
    is_own = order.customer_id == request.user.pk
    if order.status not in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED):
        if is_own:
            if request.method == "POST":
                messages.info(request, _("This order is already paid; nothing more was charged."))
            return redirect("ordering:order-detail", order_id=order.pk)
        # A kiosk order: the pickup code only for the browser that paid it.
        receipt = str(order.pk) in request.session.get(KIOSK_RECEIPTS_SESSION_KEY, [])
        return render(request, "payments/kiosk_receipt.html", {"order": order, "receipt": receipt})

    channels = registry.for_customer(order=order, user=request.user)
    pays_by_card = any(g.channel == GIFT_CARD for g in channels)
    cards = gift_cards_to_pay_with(user=request.user, brand_id=order.brand_id) if pays_by_card else []
    due = order_amount_due(order)
    split = None if request.GET.get("split") == "no" else _split_offer(order, request.user, channels, due)

    if request.method == "POST":
        form = PayForm(request.POST, channels=channels, cards=cards)
        typed = form.is_valid() and "gift_card_code" in form.payment_params()
        numbers = CardNumberThrottle(request.user)
        if typed and numbers.blocked():
            form.add_error(
                None, _("Too many card numbers tried. Use a card bound to your account, or try again later.")
            )
        elif form.is_valid():
            if typed:
                numbers.hit()
            try:
                result = _pay(request, order, form, channels, split_channel=request.POST.get("split", ""))
            except PaymentNotAllowed as exc:
                if exc.code == "already_paid" and is_own:
                    # A double submit: the first one paid, this one was refused with nothing charged.
                    messages.info(request, str(exc.message))
                    return redirect("ordering:order-detail", order_id=order.pk)
                form.add_error(None, str(exc.message))
            except DomainError as exc:
                form.add_error(None, str(exc.message))
            else:
                order.refresh_from_db()
                if result.order_paid:
                    if not is_own:
                        _remember_kiosk_receipt(request, order)
                    messages.success(
                        request,
                        _("Paid %(amount)s. Your pickup code is %(code)s.")
                        % {"amount": money_label(due), "code": order.pickup_code},
                    )
                    return _after_payment(request, order)
                return _after_external_start(request, order, result)
        # Balances may have moved; show them as they are now.
        cards = gift_cards_to_pay_with(user=request.user, brand_id=order.brand_id) if cards else cards
        due = order_amount_due(order)
        split = None if request.GET.get("split") == "no" else _split_offer(order, request.user, channels, due)
    else:
        rest = split["rest"] if split else due
        default = next((str(card.pk) for card in cards if card.balance >= rest), ANOTHER_CARD)
        form = PayForm(channels=channels, cards=cards, initial={"channel": GIFT_CARD, "card": default})
    rest = split["rest"] if split else due

    context = {
        **_pay_status_context(request, order),
        "due": due,
        "open_for_payment": order.is_open_for_payment and due > 0,
        "channels": channels,
        "cards": [{"card": card, "value": str(card.pk), "enough": card.balance >= rest} for card in cards],
        "gift_card_enabled": any(g.channel == GIFT_CARD for g in channels) and rest > 0,
        "other_channels": [g for g in channels if g.channel != GIFT_CARD and not g.partial] if rest > 0 else [],
        "split": split,
        "rest": rest,
        "form": form,
        "selected_card": str(form["card"].value() or ""),
        "another_card": ANOTHER_CARD,
    }
    return render(request, "payments/order_pay.html", context)


def _split_offer(order, user, channels, due) -> dict | None:
    """A partial channel (the canteen subsidy) offered first, and what is left for another one."""
    for gateway in channels:
        if not gateway.partial:
            continue
        amount = gateway.offer(order=order, user=user, due=due)
        if amount > 0:
            return {"gateway": gateway, "amount": amount, "rest": due - amount,
                    "note": gateway.offer_note(order=order, user=user)}
    return None


def _pay(request, order, form, channels, *, split_channel: str):
    """One payment, or a split payment: the partial channel's offer (computed again now) first,
    the rest with the chosen channel, in one checkout."""
    channel, params, ip = form.cleaned_data["channel"], form.payment_params(), client_ip(request)
    partial = next((g for g in channels if g.partial and g.channel == split_channel), None)
    if partial is not None and channel != partial.channel:
        amount = partial.offer(order=order, user=request.user, due=order_amount_due(order))
        if amount > 0:
            return payment_split_create(actor=request.user, order_id=order.pk, first_channel=partial.channel,
                                        first_amount=amount, channel=channel, params=params, ip=ip)[-1]
    return payment_create(actor=request.user, order_id=order.pk, channel=channel, params=params, ip=ip)


# --- The customer's gift cards ---


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def gift_cards(request):
    throttle = CardNumberThrottle(request.user)
    status = 200
    if request.method == "POST":
        form = GiftCardBindForm(request.POST)
        if throttle.blocked():
            status = 429  # the page says why and until when; the number was not tried
        elif form.is_valid():
            throttle.hit()
            try:
                card = gift_card_bind(actor=request.user, code=form.cleaned_data["code"], ip=client_ip(request))
            except DomainError as exc:
                form.add_error("code", str(exc.message))
            else:
                messages.success(
                    request, _("Gift card %(card)s was added to your account.") % {"card": card.masked_code}
                )
                return redirect("payments:gift-cards")
    else:
        form = GiftCardBindForm()
    blocked = throttle.blocked()
    return render(
        request,
        "payments/gift_cards.html",
        {
            "cards": gift_cards_of(user=request.user),
            "form": form,
            "blocked": blocked,
            "retry_at": throttle.retry_at() if blocked else None,
            "attempts_per_hour": BIND_ATTEMPTS_PER_WINDOW,
        },
        status=status,
    )
