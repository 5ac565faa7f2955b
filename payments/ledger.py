"""The gift card ledger: every change of a balance is one appended entry, under the card's row lock.

``balance`` on the card is the running sum of its entries; ``balance_after`` on each entry is the
balance right after it. Both have a database check that refuses a negative value, so even a bug
cannot overdraw a card. Call these inside a transaction; the caller audits.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from config.money import money

from .errors import GiftCardInvalid, InsufficientBalance
from .models import GiftCard, GiftCardEntry, GiftCardEntryKind


def gift_card_lock(*, card_id: int) -> GiftCard:
    try:
        return GiftCard.objects.select_for_update().get(pk=card_id)
    except (GiftCard.DoesNotExist, ValueError, TypeError):
        raise GiftCardInvalid() from None


def gift_card_append(
    *, card: GiftCard, kind: str, amount: Decimal, actor=None, payment=None, note: str = ""
) -> GiftCardEntry:
    """Add one entry to a locked card and move its balance; refuses to go below zero."""
    amount = money(amount)
    if amount == 0:
        raise ValueError("A ledger entry moves money.")
    new_balance = money(card.balance + amount)
    if new_balance < 0:
        raise InsufficientBalance(
            _("Not enough on gift card %(card)s: %(balance)s CNY left.") % {"card": card.masked_code,
                                                                             "balance": card.balance}
        )
    card.balance = new_balance
    card.save(update_fields=["balance"])
    return GiftCardEntry.objects.create(
        brand_id=card.brand_id, card=card, kind=kind, amount=amount, balance_after=new_balance,
        payment=payment, actor=actor if getattr(actor, "is_authenticated", False) else None, note=note[:200],
    )


__all__ = ["GiftCardEntryKind", "gift_card_append", "gift_card_lock"]
