"""The subsidy ledger: every change of a member's balance is one appended entry, under the
wallet's row lock. ``balance`` is the running sum of the entries and ``balance_after`` the
balance right after each; both have a database check that refuses a negative value. Call inside
a transaction; the caller audits."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from config.money import money
from payments.errors import InsufficientBalance

from .errors import CanteenNotFound
from .models import SubsidyEntry, SubsidyWallet


def wallet_lock(*, member_id) -> SubsidyWallet:
    try:
        return SubsidyWallet.objects.select_for_update().select_related("member", "organisation").get(
            member_id=member_id)
    except (SubsidyWallet.DoesNotExist, ValueError, TypeError):
        raise CanteenNotFound() from None


def wallet_append(*, wallet: SubsidyWallet, kind: str, amount: Decimal, actor=None, now=None, **fields) -> SubsidyEntry:
    """Add one entry to a locked wallet and move its balance; refuses to go below zero."""
    amount = money(amount)
    if amount == 0:
        raise ValueError("A ledger entry moves money.")
    new_balance = money(wallet.balance + amount)
    if new_balance < 0:
        raise InsufficientBalance(_("Not enough meal subsidy: %(balance)s CNY left.") % {"balance": wallet.balance})
    now = now or timezone.now()
    wallet.balance = new_balance
    wallet.updated_at = now
    wallet.save(update_fields=["balance", "updated_at"])
    return SubsidyEntry.objects.create(
        wallet=wallet, organisation_id=wallet.organisation_id, kind=kind, amount=amount, balance_after=new_balance,
        actor=actor if getattr(actor, "is_authenticated", False) else None, created_at=now, **fields,
    )
