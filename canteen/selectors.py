"""Reads of canteens: which organisations a user may manage, members, wallets, ledgers."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from accounts.models import Role
from stores.selectors import brand_ids_visible_to

from .errors import CanteenNotFound
from .models import EntryKind, Member, Organisation, SubsidyEntry


def organisations_for(user) -> QuerySet[Organisation]:
    """Organisations ``user`` may manage: canteen staff those they are named on, HQ managers
    those of their brand, superusers all; anybody else none (also inactive or frozen users)."""
    brands = brand_ids_visible_to(user)
    if brands is None:
        return Organisation.objects.all()
    if not brands:
        return Organisation.objects.none()
    if user.role == Role.HQ_MANAGER:
        return Organisation.objects.filter(brand_id__in=brands)
    if user.role == Role.CANTEEN_STAFF:
        return Organisation.objects.filter(brand_id__in=brands, staff=user)
    return Organisation.objects.none()


def organisation_get_for_staff(*, user, organisation_id) -> Organisation:
    try:
        return organisations_for(user).get(pk=organisation_id)
    except (Organisation.DoesNotExist, ValueError, TypeError):
        raise CanteenNotFound(message=None) from None


def member_get_for_staff(*, user, member_id) -> Member:
    """A member of an organisation the user manages; another organisation's answers like an unknown one."""
    try:
        return (Member.objects.select_related("organisation", "user", "wallet")
                .filter(organisation__in=organisations_for(user)).get(pk=member_id))
    except (Member.DoesNotExist, ValueError, TypeError):
        raise CanteenNotFound() from None


def member_search(*, organisation: Organisation, query: str, limit: int = 30) -> list[Member]:
    """By number, name, phone or department (an empty query lists the first members)."""
    query = (query or "").strip()[:60]
    qs = Member.objects.filter(organisation=organisation).select_related("user", "wallet")
    if query:
        qs = qs.filter(Q(number__icontains=query) | Q(name__icontains=query) | Q(user__phone__endswith=query)
                       | Q(department__icontains=query))
    return list(qs.order_by("number")[:limit])


def member_for_user(user) -> Member | None:
    """The active membership of an account (of an active organisation), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return (Member.objects.select_related("organisation", "wallet")
            .filter(user=user, is_active=True, organisation__is_active=True).first())


def member_serves(member: Member | None, store) -> bool:
    return member is not None and member.organisation.stores.filter(pk=store.pk).exists()


def wallet_entries(member: Member, *, limit: int = 50) -> list[SubsidyEntry]:
    return list(SubsidyEntry.objects.filter(wallet_id=member.pk).select_related("actor")
                .order_by("-created_at", "-pk")[:limit])


def ledger_sum(member: Member) -> Decimal:
    return SubsidyEntry.objects.filter(wallet_id=member.pk).aggregate(s=Sum("amount"))["s"] or Decimal("0.00")


def subsidy_paid_on_order(order) -> Decimal:
    """What the subsidy already paid on an order (payments of the channel, net of their refunds)."""
    return -(SubsidyEntry.objects.filter(payment__order=order, kind__in=[EntryKind.PAYMENT, EntryKind.REFUND])
             .aggregate(s=Sum("amount"))["s"] or Decimal("0.00"))
