"""The channels payments owns: gift cards (a wallet) and payment taken at the store counter."""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..errors import GiftCardInvalid, InsufficientBalance
from ..ledger import gift_card_append, gift_card_lock
from ..models import GiftCard, GiftCardEntryKind
from . import Gateway, ProviderRefund, registry


class GiftCardGateway(Gateway):
    """Pay from a gift card bound to the account (``gift_card``: its id) or by its number
    (``gift_card_code``). A card bound to somebody else answers like a wrong number."""

    channel = "gift_card"
    label = gettext_lazy("Gift card")
    wallet = True
    refund_days = (0, 0)

    def _card_id(self, *, payment, params: dict, actor) -> int:
        card_id, code = params.get("gift_card"), (params.get("gift_card_code") or "").replace(" ", "")
        query = GiftCard.objects.filter(brand_id=payment.brand_id, is_active=True)
        if card_id:
            try:
                card_id = int(card_id)
            except (TypeError, ValueError):
                raise GiftCardInvalid() from None
            query = query.filter(pk=card_id, owner=actor) if actor is not None else query.none()
        elif code:
            query = query.filter(code=code)
            if actor is not None:
                query = query.filter(Q(owner__isnull=True) | Q(owner=actor))
            else:
                query = query.filter(owner__isnull=True)
        else:
            raise GiftCardInvalid(_("Choose a gift card or enter its number."))
        found = query.values_list("pk", flat=True).first()
        if found is None:
            raise GiftCardInvalid()
        return found

    def settle(self, *, payment, params: dict, actor) -> None:
        card = gift_card_lock(card_id=self._card_id(payment=payment, params=params, actor=actor))
        if not card.is_active:
            raise GiftCardInvalid()
        typed_number = card.owner_id is None or card.owner_id != getattr(actor, "pk", None)
        if typed_number and card.balance < payment.amount:
            # Do not tell whoever typed a number what is on the card.
            raise InsufficientBalance(_("This gift card does not have enough on it for this order."))
        payment.gift_card = card
        gift_card_append(
            card=card, kind=GiftCardEntryKind.PAYMENT, amount=-payment.amount, actor=actor, payment=payment,
            note=f"{payment.order.store.code} #{payment.order.display_number}",  # shown as is, in any language
        )
        payment.succeed(payer_account=card.code[-4:])

    def refund(self, refund_attempt) -> ProviderRefund:
        """Back onto the card that paid, at once (inside the refund's transaction)."""
        payment = refund_attempt.payment
        card = gift_card_lock(card_id=payment.gift_card_id)
        gift_card_append(
            card=card, kind=GiftCardEntryKind.REFUND, amount=refund_attempt.amount, payment=payment,
            note=f"{payment.order.store.code} #{payment.order.display_number}",
        )
        return ProviderRefund(status="succeeded", provider_refund_id=f"card{card.pk}", amount=refund_attempt.amount)


class CounterGateway(Gateway):
    """Money taken at the counter (cash or the store's card terminal), recorded by store staff.
    Kiosk orders are paid this way."""

    channel = "counter"
    label = gettext_lazy("Paid at the counter")
    wallet = True
    refund_days = (0, 0)
    staff_only = True

    def available(self, *, order, user) -> bool:
        """Only kiosk orders are paid at the counter: an order a customer placed online is paid
        by the customer, so a member of staff cannot mark it paid without money."""
        return order.customer_id is None and order.source == "kiosk"

    def settle(self, *, payment, params: dict, actor) -> None:
        payment.succeed(provider_trade_no=str(params.get("reference", ""))[:64])

    def refund(self, refund_attempt) -> ProviderRefund:
        """Cash handed back at the counter by the staff member who records the refund."""
        return ProviderRefund(status="succeeded", provider_refund_id="counter", amount=refund_attempt.amount)


registry.register(GiftCardGateway())
registry.register(CounterGateway())
