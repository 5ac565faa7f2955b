"""Every write to payments and gift cards.

Paying (``payment_create``) follows the lock order of ``ordering.services``: the order row first
(``order_lock``), then the payment, then the wallet row, then the audit chain last. Under the
order lock it re-checks that the order still awaits payment and has not expired, and that the new
payment does not take more than is left to pay, so an expired, cancelled or already paid order
never moves money, and paying more than the total is refused before any money moves. When the
succeeded payments cover the total, ``ordering.services.order_mark_paid`` moves the order to paid
and issues its pickup code, in the same transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from audit.services import audit_record
from config.money import money
from ordering.errors import OrderNotFound
from ordering.models import OrderStatus
from ordering.services import order_lock, order_mark_paid
from stores.selectors import store_ids_visible_to, user_manages_whole_brand

from .errors import AmountInvalid, GiftCardInvalid, PaymentNotAllowed
from .gateways import PaymentAction, registry
from .ledger import gift_card_append, gift_card_lock
from .models import GiftCard, GiftCardEntryKind, Payment, PaymentStatus
from .selectors import order_amount_due

MAX_GIFT_CARD_AMOUNT = Decimal("10000.00")
GIFT_CARD_CODE_DIGITS = 16


@dataclass(frozen=True)
class PaymentResult:
    payment: Payment
    action: PaymentAction
    order_paid: bool


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _clean_amount(value, *, maximum: Decimal = MAX_GIFT_CARD_AMOUNT) -> Decimal:
    try:
        amount = money(Decimal(str(value)))
    except (InvalidOperation, TypeError, ValueError):
        raise AmountInvalid(_("Enter an amount in yuan, such as 50 or 12.50.")) from None
    if not amount.is_finite() or amount <= 0:
        raise AmountInvalid(_("The amount must be more than zero."))
    if amount > maximum:
        raise AmountInvalid(_("The amount can be at most %(max)s CNY.") % {"max": maximum})
    return amount


def _order_covered(order) -> bool:
    paid = order.payments.filter(status=PaymentStatus.SUCCEEDED).aggregate(s=Sum("amount"))["s"] or 0
    return paid >= order.total


def _payment_event(payment: Payment, action: str, *, actor, ip=None, data=None) -> dict:
    return {
        "action": action, "actor": _user(actor), "obj": payment, "brand_id": payment.brand_id,
        "amount": payment.amount, "ip": ip,
        "data": {"order": str(payment.order_id), "channel": payment.channel, "status": payment.status,
                 **(data or {})},
    }


def payment_create(
    *, actor, order_id, channel: str, params: dict | None = None, amount=None, ip: str | None = None, now=None
) -> PaymentResult:
    """Pay (part of) an order with ``channel``. Wallet channels settle at once.

    ``amount`` defaults to what is left to pay; more than that is refused (``PaymentNotAllowed``)
    before any money moves. The customer pays their own orders; store staff record counter
    payments for their stores. Refusals (``PaymentNotAllowed``, ``InsufficientBalance``,
    ``GiftCardInvalid``, ``UnknownChannel``) leave nothing written.
    """
    params = params or {}
    gateway = registry.get(channel)
    user = _user(actor)
    now = now or timezone.now()
    if not gateway.wallet:  # pragma: no cover - external providers come with the gateways issue
        raise PaymentNotAllowed(_("This payment channel is not available yet."))
    with transaction.atomic():
        order = order_lock(order_id=order_id)
        if gateway.staff_only:
            visible = store_ids_visible_to(user) if user is not None else set()
            if user is None or not user.is_staff or (visible is not None and order.store_id not in visible):
                raise PaymentNotAllowed(_("Only staff of this store can record a counter payment."),
                                        status_code=403, code="not_yours")
        elif order.customer_id is not None and (user is None or order.customer_id != user.pk):
            raise OrderNotFound()
        if getattr(user, "is_frozen", False):
            raise PaymentNotAllowed(_("Your account is frozen, so it cannot pay."), status_code=403,
                                    code="account_frozen")
        if order.status == OrderStatus.CANCELLED:
            raise PaymentNotAllowed(_("This order was cancelled; nothing was charged."), code="order_cancelled")
        if order.status != OrderStatus.PENDING_PAYMENT:
            raise PaymentNotAllowed(_("This order is already paid; nothing was charged."), code="already_paid")
        if order.expires_at <= now:
            raise PaymentNotAllowed(
                _("This order expired at %(time)s; nothing was charged. Please order again.")
                % {"time": date_format(timezone.localtime(order.expires_at), "H:i")},
                code="order_expired",
            )
        if not gateway.available(order=order, user=user):
            raise PaymentNotAllowed(_("This payment channel is not available for this order."))
        due = order_amount_due(order)
        if due <= 0:
            raise PaymentNotAllowed(_("Nothing is left to pay on this order."), code="already_paid")
        to_pay = due if amount in (None, "") else _clean_amount(amount)
        if to_pay > due:
            raise PaymentNotAllowed(
                _("Only %(due)s CNY is left to pay; paying more is refused.") % {"due": due},
                code="over_total",
            )
        if to_pay < due and not gateway.partial:
            # A part payment would leave money taken on an order that may then expire, and
            # expiry gives stock back but not money: until split payment settles both parts in
            # one checkout (the canteen subsidy issue), a payment covers what is left.
            raise PaymentNotAllowed(
                _("Pay the whole %(due)s CNY left on this order; paying part of it is not possible yet.")
                % {"due": due},
                code="partial_not_allowed",
            )
        payment = Payment(brand_id=order.brand_id, order=order, channel=channel, amount=to_pay, created_by=user,
                          created_at=now)
        payment._history_user = user
        payment.save(force_insert=True)
        gateway.settle(payment=payment, params=params, actor=user)
        payment.save()
        events = [_payment_event(payment, "payment.succeeded", actor=user, ip=ip)]
        paid = False
        if payment.status == PaymentStatus.SUCCEEDED and _order_covered(order):
            events.append(order_mark_paid(order=order, actor=user, at=now))
            paid = True
        for event in events:
            audit_record(**event)
    return PaymentResult(payment=payment, action=PaymentAction(), order_paid=paid)


# --- Gift cards (HQ in the admin; customers bind them) ---


def _new_card_code() -> str:
    return "".join(str(secrets.randbelow(10)) for _i in range(GIFT_CARD_CODE_DIGITS))


def _check_brand(actor, brand_id: int) -> None:
    """Issuing and topping up cards is HQ work (the brand's HQ managers, superusers); ``None``
    is the system (seed_demo, tasks). Store staff may look at cards but not create money."""
    if actor is None:
        return
    if not user_manages_whole_brand(actor, brand_id):
        raise GiftCardInvalid(_("Only HQ managers of this brand may issue or top up its gift cards."),
                              status_code=403, code="not_yours")


def gift_card_issue(*, actor, brand, amount, owner=None, note: str = "", ip: str | None = None,
                    code: str | None = None) -> GiftCard:
    """Issue a new card with ``amount`` on it (HQ), optionally bound to ``owner`` at once."""
    _check_brand(actor, brand.pk)
    amount = _clean_amount(amount)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                card = GiftCard(brand=brand, code=code or _new_card_code(), owner=owner,
                                bound_at=timezone.now() if owner else None)
                card._history_user = _user(actor)
                card.save(force_insert=True)
                gift_card_append(card=card, kind=GiftCardEntryKind.ISSUE, amount=amount, actor=actor, note=note)
                audit_record(action="gift_card.issued", actor=_user(actor), obj=card, amount=amount, ip=ip,
                             reason=note, data={"card": card.masked_code, "owner": owner.pk if owner else None})
            return card
        except IntegrityError:
            if code:
                raise GiftCardInvalid(_("A gift card with this number exists already.")) from None
    raise GiftCardInvalid(_("Could not find a free card number; try again."))  # pragma: no cover


def gift_card_top_up(*, actor, card_id: int, amount, note: str = "", ip: str | None = None) -> GiftCard:
    """Add money to a card (HQ)."""
    amount = _clean_amount(amount)
    with transaction.atomic():
        card = gift_card_lock(card_id=card_id)
        _check_brand(actor, card.brand_id)
        if not card.is_active:
            raise GiftCardInvalid(_("This gift card is switched off."))
        gift_card_append(card=card, kind=GiftCardEntryKind.TOP_UP, amount=amount, actor=actor, note=note)
        audit_record(action="gift_card.topped_up", actor=_user(actor), obj=card, amount=amount, ip=ip,
                     reason=note, data={"card": card.masked_code, "balance": str(card.balance)})
    return card


def gift_card_set_active(*, actor, card_id: int, active: bool, ip: str | None = None) -> GiftCard:
    """Switch a card on or off (HQ). A switched-off card cannot pay or be bound; its money stays."""
    with transaction.atomic():
        card = gift_card_lock(card_id=card_id)
        _check_brand(actor, card.brand_id)
        if card.is_active == active:
            return card
        card.is_active = active
        card._history_user = _user(actor)
        card.save(update_fields=["is_active"])
        audit_record(action="gift_card.activated" if active else "gift_card.deactivated", actor=_user(actor),
                     obj=card, amount=card.balance, ip=ip, data={"card": card.masked_code})
    return card


def gift_card_bind(*, actor, code: str, ip: str | None = None) -> GiftCard:
    """Bind a card to the customer's account by its number, so they pay without typing it.

    A wrong number, a switched-off card and a card bound to somebody else all get the same answer.
    """
    user = _user(actor)
    if user is None:
        raise GiftCardInvalid(_("Log in to add a gift card."), status_code=403, code="login_required")
    code = (code or "").replace(" ", "").strip()
    if not (code.isascii() and code.isdigit()) or len(code) != GIFT_CARD_CODE_DIGITS:
        raise GiftCardInvalid(_("A gift card number is %(n)d digits.") % {"n": GIFT_CARD_CODE_DIGITS})
    with transaction.atomic():
        card_id = GiftCard.objects.filter(code=code).values_list("pk", flat=True).first()
        if card_id is None:
            raise GiftCardInvalid()
        card = gift_card_lock(card_id=card_id)
        if not card.is_active or (card.owner_id is not None and card.owner_id != user.pk):
            raise GiftCardInvalid()
        if card.owner_id == user.pk:
            return card
        card.owner, card.bound_at = user, timezone.now()
        card._history_user = user
        card.save(update_fields=["owner", "bound_at"])
        audit_record(action="gift_card.bound", actor=user, obj=card, ip=ip, data={"card": card.masked_code})
    return card
