"""The ``meal_subsidy`` payment channel, registered into the payments registry.

A member pays from their subsidy wallet at the stores that serve their organisation, at most
the organisation's per-meal cap per order; the rest of the order is paid by another channel in
the same checkout (``payments.services.payment_split_create``). Refunds come back to the wallet
at once, and last among an order's payments (``refund_priority``): the payer's own money is
returned first, the organisation's subsidy only when the whole order is refunded.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from payments.errors import PaymentNotAllowed
from payments.gateways import Gateway, ProviderRefund, registry

from .ledger import wallet_append, wallet_lock
from .models import EntryKind, SubsidyEntry
from .selectors import member_for_user, member_serves, subsidy_paid_on_order


def subsidy_offer(*, order, user, due: Decimal) -> dict | None:
    """What the subsidy can pay of ``due`` on this order for this user: ``None`` when not at all."""
    member = member_for_user(user)
    if member is None or not member_serves(member, order.store):
        return None
    wallet = member.wallet
    cap_left = max(member.organisation.per_meal_cap - subsidy_paid_on_order(order), Decimal("0.00"))
    amount = min(wallet.balance, cap_left, due)
    return {"member": member, "balance": wallet.balance, "cap": member.organisation.per_meal_cap,
            "cap_left": cap_left, "amount": amount}


class MealSubsidyGateway(Gateway):
    channel = "meal_subsidy"
    label = gettext_lazy("Meal subsidy")
    wallet = True
    partial = True
    refund_days = (0, 0)
    refund_priority = 100

    def offer(self, *, order, user, due: Decimal) -> Decimal:
        found = subsidy_offer(order=order, user=user, due=due)
        return found["amount"] if found else Decimal("0.00")

    def offer_note(self, *, order, user) -> str:
        found = subsidy_offer(order=order, user=user, due=Decimal("0.00"))
        if not found:
            return ""
        return _("Balance %(balance)s CNY · at most %(cap)s CNY per meal") % {
            "balance": found["balance"], "cap": found["cap"]}

    def available(self, *, order, user) -> bool:
        member = member_for_user(user)
        return member is not None and member_serves(member, order.store)

    def enabled_at(self, store) -> bool:
        return store.organisations.filter(is_active=True).exists()

    def settle(self, *, payment, params: dict, actor) -> None:
        member = member_for_user(actor)
        if member is None or not member_serves(member, payment.order.store):
            raise PaymentNotAllowed(_("Only members of an organisation this canteen serves pay with meal subsidy."),
                                    code="not_a_member", status_code=403)
        cap_left = member.organisation.per_meal_cap - subsidy_paid_on_order(payment.order)
        if payment.amount > cap_left:
            raise PaymentNotAllowed(
                _("The subsidy pays at most %(cap)s CNY per meal; %(left)s CNY is left for this order.")
                % {"cap": member.organisation.per_meal_cap, "left": max(cap_left, Decimal("0.00"))},
                code="over_meal_cap",
            )
        wallet = wallet_lock(member_id=member.pk)
        wallet_append(wallet=wallet, kind=EntryKind.PAYMENT, amount=-payment.amount, actor=actor, payment=payment,
                      note=f"{payment.order.store.code} #{payment.order.display_number}")
        payment.succeed(payer_account=member.number[-4:])

    def refund(self, refund_attempt) -> ProviderRefund:
        """Back into the wallet that paid, at once (inside the refund's transaction); once per attempt."""
        payment = refund_attempt.payment
        paid = SubsidyEntry.objects.get(payment=payment, kind=EntryKind.PAYMENT)
        wallet = wallet_lock(member_id=paid.wallet_id)
        if not SubsidyEntry.objects.filter(refund_attempt=refund_attempt).exists():
            wallet_append(wallet=wallet, kind=EntryKind.REFUND, amount=refund_attempt.amount, payment=payment,
                          refund_attempt=refund_attempt,
                          note=f"{payment.order.store.code} #{payment.order.display_number}")
        return ProviderRefund(status="succeeded", provider_refund_id=f"subsidy{wallet.pk}",
                              amount=refund_attempt.amount)


registry.register(MealSubsidyGateway())
