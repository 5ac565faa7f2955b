"""Customer ordering pages: the ordering menu with its cart, table QR, and checkout.

Cart actions answer an HTMX request with the cart partial only, and a plain form post with a
redirect back to the menu (the message travels with the cart). Checkout: validate -> one call to
``order_submit`` -> redirect to the pay page; a ``DomainError`` becomes a form error.

Menu advisors (``ordering.panels.register_menu_advisor``, e.g. the canteen's dietary needs) mark
the dishes that suit the customer, filter the menu to those (``?suits=1``), and make adding a dish
that does not suit them a two-step action: the first post answers the warnings and a confirm
button instead of adding, the second (``confirm=1``) adds. The kiosk, a shared device, asks none.
"""

from __future__ import annotations

import secrets

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from config.api import DomainError
from config.net import client_ip
from stores.errors import StoreNotFound
from stores.models import DiningTable, FulfilmentMode, Store
from stores.selectors import MenuCategoryGroup, MenuDish, StoreMenu, store_get_public, store_is_open_now, store_menu

from ..cart import Cart, CartError, CartSummary
from ..forms import CartAddForm, CartLineForm, CheckoutForm, first_error
from ..models import Order, OrderSource
from ..panels import DishAdvice, menu_advice
from ..services import MAX_QUANTITY, order_submit

TOKENS_KEY = "ordering.checkout_tokens"  # cart key -> the token of the checkout form last shown
SUBMITTED_KEY = "ordering.submitted"  # token -> order id, so a resubmitted form finds its order
SUBMITTED_KEEP = 20
SUITS_PARAM = "suits"  # ?suits=1: only the dishes the menu advisors say suit the customer


# --- helpers shared with the kiosk views ---


def store_or_404(store_code: str) -> Store:
    try:
        return store_get_public(code=store_code)
    except StoreNotFound as exc:
        raise Http404(exc.message) from exc


def pay_url(order_id) -> str:
    """The pay page of an order (a payments page, named by URL so ordering imports nothing of it)."""
    return reverse("payments:order-pay", kwargs={"order_id": order_id})


def cart_urls(store: Store, *, kiosk: bool) -> dict[str, str]:
    prefix = "ordering:kiosk-" if kiosk else "ordering:"
    return {
        "menu": reverse("ordering:kiosk" if kiosk else "ordering:menu", args=[store.code]),
        "add": reverse(f"{prefix}cart-add", args=[store.code]),
        "update": reverse(f"{prefix}cart-update", args=[store.code]),
        "remove": reverse(f"{prefix}cart-remove", args=[store.code]),
        "checkout": reverse(f"{prefix}checkout", args=[store.code]),
    }


def cart_context(request, store: Store, summary: CartSummary, *, kiosk: bool, flash: dict | None,
                 is_open: bool) -> dict:
    return {
        "store": store,
        "cart": summary,
        "cart_urls": cart_urls(store, kiosk=kiosk),
        "flash": flash,
        "kiosk": kiosk,
        "is_open": is_open,
    }


class AdvisedDish:
    """A menu dish with the advisors' word on it (``advice``); reads as the dish in templates."""

    __slots__ = ("advice", "dish")

    def __init__(self, dish: MenuDish, advice: DishAdvice | None):
        self.dish = dish
        self.advice = advice

    def __getattr__(self, name):
        return getattr(self.dish, name)


def advised_categories(request, store: Store, menu: StoreMenu, *, suits_only: bool) -> tuple[list, bool]:
    """The menu's categories with each dish's advice, and whether any advisor had a word.

    Without advice the categories are the menu's own (the page is what it was without advisors);
    with ``suits_only`` only the suiting dishes remain, and categories left empty are dropped.
    """
    advice = menu_advice(request, store, (dish for category in menu.categories for dish in category.dishes))
    if not advice:
        return menu.categories, False
    categories = []
    for category in menu.categories:
        dishes = [AdvisedDish(dish, advice.get(dish.id)) for dish in category.dishes]
        if suits_only:
            dishes = [dish for dish in dishes if dish.advice is not None and dish.advice.suits]
        if dishes:
            categories.append(MenuCategoryGroup(category.code, category.name, dishes))
    return categories, True


def menu_dish(menu: StoreMenu, dish_id: int) -> MenuDish | None:
    return next((dish for category in menu.categories for dish in category.dishes if dish.id == dish_id), None)


def dish_warning(request, store: Store, dish: MenuDish | None) -> DishAdvice | None:
    """The advice on a dish when an advisor says it does not suit the customer, else None."""
    if dish is None:
        return None
    advice = menu_advice(request, store, [dish]).get(dish.id)
    return advice if advice is not None and not advice.suits else None


def suits_only_posted(request) -> bool:
    return request.POST.get(SUITS_PARAM) == "1"


def checkout_token(session, cart_key: str, *, renew: bool = False) -> str:
    """The one-time token of the cart's checkout form, created when first needed."""
    tokens = dict(session.get(TOKENS_KEY, {}))
    token = tokens.get(cart_key)
    if renew or not token:
        token = tokens[cart_key] = secrets.token_urlsafe(24)
        session[TOKENS_KEY] = tokens
    return token


def token_is_current(session, cart_key: str, token: str) -> bool:
    current = session.get(TOKENS_KEY, {}).get(cart_key)
    return bool(token) and current is not None and secrets.compare_digest(current, token)


def submitted_order_id(session, token: str) -> str | None:
    return session.get(SUBMITTED_KEY, {}).get(token) if token else None


def remember_submitted(session, cart: Cart, token: str, order: Order) -> None:
    """Forget the token and the cart; remember which order the token made."""
    submitted = dict(session.get(SUBMITTED_KEY, {}))
    submitted[token] = str(order.pk)
    session[SUBMITTED_KEY] = dict(list(submitted.items())[-SUBMITTED_KEEP:])
    tokens = dict(session.get(TOKENS_KEY, {}))
    tokens.pop(cart.key, None)
    session[TOKENS_KEY] = tokens
    cart.clear()
    cart.save()


def confirm_response(request, store: Store, cart: Cart, dish: MenuDish, advice: DishAdvice, form: CartAddForm,
                     *, is_open: bool):
    """Not added yet: the dish with its warnings and an "add it anyway" button (HTMX: the dish
    card in place of the one posted; otherwise the menu page with that card)."""
    confirm = {
        "dish_id": dish.id,
        "warnings": advice.warnings,
        "quantity": form.cleaned_data["quantity"],
        "option_ids": form.cleaned_data["option_ids"],
    }
    if request.htmx:
        context = {"dish": AdvisedDish(dish, advice), "confirm": confirm, "cart_urls": cart_urls(store, kiosk=False),
                   "is_open": is_open, "kiosk": False, "suits_only": suits_only_posted(request),
                   "menu_advised": True}
        response = render(request, "ordering/_cart_dish.html", context)
        response["HX-Retarget"] = f"#dish-{dish.code}"
        response["HX-Reswap"] = "outerHTML"
        return response
    return render_menu(request, store, cart, kiosk=False, template="ordering/menu.html",
                       extra={"confirm": confirm}, suits_only=False)


def cart_action(request, store_code: str, action: str, *, kiosk: bool):
    """Add, change or remove; then the cart partial (HTMX) or a redirect to the menu."""
    store = store_or_404(store_code)
    menu = store_menu(store=store)
    cart = Cart(request.session, store.code, kiosk=kiosk)
    is_open = store_is_open_now(store)
    message, error = "", ""
    confirmed_dish = None  # the dish added despite a warning, whose card drops its confirm box
    try:
        if action == "add":
            form = CartAddForm(request.POST)
            if not form.is_valid():
                raise CartError(first_error(form))
            dish_id = form.cleaned_data["dish"]
            if not kiosk:
                dish = menu_dish(menu, dish_id)
                warning = dish_warning(request, store, dish) if dish is not None and dish.available else None
                if warning is not None:
                    if request.POST.get("confirm") != "1":
                        return confirm_response(request, store, cart, dish, warning, form, is_open=is_open)
                    confirmed_dish = AdvisedDish(dish, warning)
            cart.add(menu, dish_id=dish_id, option_ids=form.cleaned_data["option_ids"],
                     quantity=form.cleaned_data["quantity"], is_open=is_open)
            dish_name = next(line.name for line in cart.summary(menu).lines if line.dish_id == dish_id)
            message = _("Added %(dish)s.") % {"dish": dish_name}
        else:
            form = CartLineForm(request.POST)
            if not form.is_valid():
                raise CartError(first_error(form))
            if action == "remove":
                cart.remove(form.cleaned_data["line"])
                message = _("Removed from your cart.")
            else:
                quantity = form.cleaned_data["quantity"]
                if quantity is None:
                    raise CartError(_("Choose a quantity between 1 and %(max)d.") % {"max": MAX_QUANTITY})
                cart.set_quantity(menu, key=form.cleaned_data["line"], quantity=quantity, is_open=is_open)
                message = _("Cart updated.")
    except CartError as exc:
        error = exc.message
    flash = {"text": error or message, "error": bool(error)}
    if request.htmx:
        cart.save()
        context = cart_context(request, store, cart.summary(menu), kiosk=kiosk, flash=flash, is_open=is_open)
        response = render(request, "ordering/_cart.html", context)
        if confirmed_dish is not None:  # the dish card again, without its confirm box (out of band)
            response.content += render_to_string("ordering/_cart_dish.html", {
                **context, "dish": confirmed_dish, "oob": True, "menu_advised": True,
                "suits_only": suits_only_posted(request),
            }, request=request).encode()
        return response
    cart.flash(flash["text"], error=flash["error"])
    cart.save()
    query = f"?{SUITS_PARAM}=1" if not kiosk and suits_only_posted(request) else ""
    return redirect(f"{cart_urls(store, kiosk=kiosk)['menu']}{query}#cart")


def render_menu(request, store: Store, cart: Cart, *, kiosk: bool, template: str, status: int = 200,
                extra: dict | None = None, suits_only: bool | None = None):
    menu = store_menu(store=store)
    is_open = store_is_open_now(store)
    context = cart_context(request, store, cart.summary(menu), kiosk=kiosk, flash=cart.pop_flash(), is_open=is_open)
    context["menu"] = menu
    if kiosk:
        context["menu_categories"] = menu.categories
    else:
        if suits_only is None:
            suits_only = request.GET.get(SUITS_PARAM) == "1"
        categories, advised = advised_categories(request, store, menu, suits_only=suits_only)
        context["menu_categories"] = categories
        if advised:
            context.update(menu_advised=True, suits_only=suits_only)
    context.update(extra or {})
    return render(request, template, context, status=status)


# --- pages ---


@never_cache
@require_GET
def menu_page(request, store_code: str):
    store = store_or_404(store_code)
    cart = Cart(request.session, store.code)
    return render_menu(request, store, cart, kiosk=False, template="ordering/menu.html")


@never_cache
@require_GET
def table_page(request, store_code: str, table: str):
    """A table's QR code: bind the store's cart to the table (dine-in) and show the menu."""
    store = store_or_404(store_code)
    found = None
    if len(table) <= 16 and "\x00" not in table and store.offers_dine_in:
        found = DiningTable.objects.filter(store=store, code=table, is_active=True).only("code").first()
    if found is None:
        shown = table[:16].replace("\x00", "")
        return render(request, "ordering/cart_table_not_found.html", {"store": store, "table": shown}, status=404)
    cart = Cart(request.session, store.code)
    cart.bind_table(found.code)
    cart.save()
    return render_menu(request, store, cart, kiosk=False, template="ordering/menu.html")


@require_POST
def table_leave(request, store_code: str):
    """Order for pickup or delivery instead: unbind the cart from its table."""
    store = store_or_404(store_code)
    cart = Cart(request.session, store.code)
    cart.bind_table("")
    cart.flash(_("You are no longer ordering for a table."))
    cart.save()
    return redirect("ordering:menu", store_code=store.code)


@require_POST
def cart_add(request, store_code: str):
    return cart_action(request, store_code, "add", kiosk=False)


@require_POST
def cart_update(request, store_code: str):
    return cart_action(request, store_code, "update", kiosk=False)


@require_POST
def cart_remove(request, store_code: str):
    return cart_action(request, store_code, "remove", kiosk=False)


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def checkout(request, store_code: str):
    store = store_or_404(store_code)
    cart = Cart(request.session, store.code)
    posted_token = request.POST.get("token", "") if request.method == "POST" else ""
    done = submitted_order_id(request.session, posted_token)
    if done is not None:  # the same form again (double click, back + resubmit): the same order
        return redirect(pay_url(done))
    if not cart.lines:
        cart.flash(_("Your cart is empty: add a dish first."), error=True)
        cart.save()
        return redirect("ordering:menu", store_code=store.code)

    menu = store_menu(store=store)
    summary = cart.summary(menu)
    initial = {"contact_phone": getattr(request.user, "phone", "")}
    form = CheckoutForm(request.POST or None, store=store, table=cart.table, initial=initial)
    renew = False
    if request.method == "POST" and form.is_valid():
        if not token_is_current(request.session, cart.key, form.cleaned_data["token"]):
            form.add_error(None, _("This checkout page had expired. Check your order and place it again."))
            renew = True
        elif summary.problems:
            form.add_error(None, _("Some dishes in your cart cannot be ordered: %(dishes)s")
                           % {"dishes": ", ".join(f"{line.name} ({line.problem})" for line in summary.problems)})
        else:
            data = form.cleaned_data
            fulfilment = data["fulfilment"]
            try:
                result = order_submit(
                    actor=request.user,
                    store=store,
                    fulfilment=fulfilment,
                    lines=cart.line_requests(),
                    table=cart.table if fulfilment == FulfilmentMode.DINE_IN else "",
                    address=data["address"] if fulfilment == FulfilmentMode.DELIVERY else "",
                    latitude=data["latitude"] if fulfilment == FulfilmentMode.DELIVERY else None,
                    longitude=data["longitude"] if fulfilment == FulfilmentMode.DELIVERY else None,
                    contact_phone=data["contact_phone"],
                    note=data["note"],
                    source=OrderSource.TABLE if fulfilment == FulfilmentMode.DINE_IN else OrderSource.WEB,
                    idempotency_key=data["token"],
                    ip=client_ip(request),
                )
            except DomainError as exc:
                form.add_error(None, str(exc.message))
            else:
                remember_submitted(request.session, cart, data["token"], result.order)
                return redirect(pay_url(result.order.pk))
    token = checkout_token(request.session, cart.key, renew=renew)
    if form.is_bound:
        form.data = form.data.copy()
        form.data["token"] = token
    else:
        form.initial["token"] = token
    return render(request, "ordering/checkout.html", {
        "store": store,
        "cart": summary,
        "form": form,
        "is_open": store_is_open_now(store),
        "delivery_offered": FulfilmentMode.DELIVERY in store.fulfilment_modes,
        "total_with_delivery": summary.subtotal + store.delivery_fee,
        "menu_url": reverse("ordering:menu", args=[store.code]),
    })
