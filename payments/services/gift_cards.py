"""Gift cards: HQ issues and tops them up in the admin; customers bind them to their account."""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record
from stores.selectors import user_manages_whole_brand

from ..errors import GiftCardInvalid
from ..ledger import gift_card_append, gift_card_lock
from ..models import GiftCard, GiftCardEntryKind
from ._common import _clean_amount, _user

GIFT_CARD_CODE_DIGITS = 16
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


def gift_card_for_refund(*, brand_id: int, owner) -> GiftCard:
    """The card a refund redirected to "gift card credit" goes onto: the owner's newest active
    card of the brand, or a new card bound to them (empty until the refund credits it). Inside the
    caller's transaction; the caller audits the redirection."""
    card = (GiftCard.objects.filter(brand_id=brand_id, owner=owner, is_active=True)
            .order_by("-created_at", "-pk").first())
    if card is not None:
        return card
    for _attempt in range(5):
        try:
            with transaction.atomic():
                card = GiftCard(brand_id=brand_id, code=_new_card_code(), owner=owner, bound_at=timezone.now())
                card._history_user = _user(owner)
                card.save(force_insert=True)
            return card
        except IntegrityError:
            continue
    raise GiftCardInvalid(_("Could not find a free card number; try again."))  # pragma: no cover
