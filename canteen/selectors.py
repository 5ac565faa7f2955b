"""Reads of canteens: who may manage which organisations, members, wallets, ledgers, batches and
the monthly settlement per department (for the staff pages and ``canteen.api``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from payments.models import Payment, PaymentStatus, RefundAttempt, RefundAttemptStatus
from stores.selectors import brand_ids_visible_to

from .errors import CanteenInvalid, CanteenNotFound
from .models import EntryKind, Member, Organisation, SubsidyEntry, TopupBatch

CANTEEN_ROLES = frozenset({Role.HQ_MANAGER, Role.CANTEEN_STAFF})
ZERO = Decimal("0.00")


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


def may_manage_canteens(user) -> bool:
    """Canteen staff, HQ managers and superusers who may act (active, not frozen, assigned)."""
    if not getattr(user, "is_authenticated", False):
        return False
    brands = brand_ids_visible_to(user)
    if brands is None:  # an active superuser
        return True
    return bool(brands) and user.role in CANTEEN_ROLES




# --- access, batches, members by reference, the monthly settlement -------------------------


def batches_recent(*, organisation: Organisation, limit: int = 20) -> list[TopupBatch]:
    return list(TopupBatch.objects.filter(organisation=organisation).select_related("uploaded_by", "applied_by")
                .order_by("-created_at", "-pk")[:limit])


def batch_get(*, organisation: Organisation, batch_id) -> TopupBatch | None:
    try:
        return (TopupBatch.objects.select_related("organisation", "uploaded_by", "applied_by")
                .filter(organisation=organisation).get(pk=batch_id))
    except (TopupBatch.DoesNotExist, ValueError, TypeError):
        return None


def batch_get_for_staff(*, user, batch_id) -> TopupBatch:
    """A batch of an organisation the user manages; another organisation's answers like an unknown one."""
    try:
        return (TopupBatch.objects.select_related("organisation", "uploaded_by", "applied_by")
                .filter(organisation__in=organisations_for(user)).get(pk=batch_id))
    except (TopupBatch.DoesNotExist, ValueError, TypeError):
        raise CanteenNotFound(_("No such batch.")) from None


def batch_applied_twin(batch: TopupBatch) -> TopupBatch | None:
    """Another batch of the same file content that was applied already (this one would credit nothing)."""
    return (TopupBatch.objects.filter(organisation_id=batch.organisation_id, sha256=batch.sha256,
                                      status=TopupBatch.Status.APPLIED).exclude(pk=batch.pk).first())


def batch_entries(batch: TopupBatch) -> dict[int, SubsidyEntry]:
    return {entry.batch_line: entry for entry in SubsidyEntry.objects.filter(batch=batch)}


def member_by_reference(*, user, reference, organisation_id=None) -> Member:
    """A member the user manages, by id (an int) or by member number (a string), optionally
    within one organisation (member numbers are unique per organisation only)."""
    organisations = organisations_for(user)
    if organisation_id is not None:
        organisations = organisations.filter(pk=organisation_id)
    qs = Member.objects.select_related("organisation", "wallet").filter(organisation__in=organisations)
    if isinstance(reference, int):
        found = list(qs.filter(pk=reference)[:1])
    else:
        found = list(qs.filter(number=str(reference).strip())[:2])
    if not found:
        raise CanteenNotFound()
    if len(found) > 1:
        raise CanteenInvalid(_("Several of your organisations have a member with this number: name the "
                               "organisation."), code="ambiguous_member")
    return found[0]


@dataclass(frozen=True)
class SettlementRow:
    department: str
    label: str
    members: int
    granted: Decimal
    topped_up: Decimal
    used: Decimal
    expired: Decimal
    personal: Decimal


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The first instant of ``month`` and of the next one, in the project's time zone."""
    nxt = month.replace(year=month.year + 1, month=1) if month.month == 12 else month.replace(month=month.month + 1)
    zone = timezone.get_current_timezone()
    return (timezone.make_aware(datetime.combine(month, time.min), zone),
            timezone.make_aware(datetime.combine(nxt, time.min), zone))


def _sum(expression, **filter_kwargs):
    money = DecimalField(max_digits=14, decimal_places=2)
    return Coalesce(Sum(expression, filter=Q(**filter_kwargs) if filter_kwargs else None, output_field=money),
                    Value(ZERO), output_field=money)


def settlement_rows(*, organisation: Organisation, month: date) -> list[SettlementRow]:
    """The month of an organisation per department (the member's department now), from the ledger
    entries booked in the month (Beijing time) and the members' own payments, all by database
    aggregates (four queries, whatever the number of members and orders):

    - granted, topped up: grant and top-up entries; expired: expiry entries, as a positive amount;
    - used: payment entries net of refund entries, as a positive amount;
    - personal spend: succeeded payments by other channels than meal_subsidy, minus the succeeded
      refunds of such payments, booked in the month, on orders of the organisation's members at
      the organisation's stores (orders partly paid by subsidy and orders not paid by it at all).
    """
    start, end = month_bounds(month)
    members = {row["department"]: row["n"] for row in
               Member.objects.filter(organisation=organisation, is_active=True)
               .values("department").annotate(n=Count("pk")).order_by()}
    ledger = {row["department"]: row for row in
              SubsidyEntry.objects.filter(organisation=organisation, created_at__gte=start, created_at__lt=end)
              .values(department=F("wallet__member__department"))
              .annotate(granted=_sum("amount", kind=EntryKind.GRANT), topped_up=_sum("amount", kind=EntryKind.TOPUP),
                        paid=_sum("amount", kind=EntryKind.PAYMENT), refunded=_sum("amount", kind=EntryKind.REFUND),
                        expired=_sum("amount", kind=EntryKind.EXPIRY))
              .order_by()}
    subsidy = "meal_subsidy"  # canteen.gateway.MealSubsidyGateway.channel
    paid = {row["department"]: row["s"] for row in
            Payment.objects.filter(order__customer__canteen_member__organisation=organisation,
                                   order__store__organisations=organisation,
                                   status__in=[PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED],
                                   succeeded_at__gte=start, succeeded_at__lt=end)
            .exclude(channel=subsidy)
            .values(department=F("order__customer__canteen_member__department"))
            .annotate(s=_sum("amount")).order_by()}
    refunded = {row["department"]: row["s"] for row in
                RefundAttempt.objects.filter(payment__order__customer__canteen_member__organisation=organisation,
                                             payment__order__store__organisations=organisation,
                                             status=RefundAttemptStatus.SUCCEEDED,
                                             succeeded_at__gte=start, succeeded_at__lt=end)
                .exclude(payment__channel=subsidy)
                .values(department=F("payment__order__customer__canteen_member__department"))
                .annotate(s=_sum("amount")).order_by()}
    rows = []
    for department in sorted(set(members) | set(ledger) | set(paid) | set(refunded)):
        entry = ledger.get(department, {})
        rows.append(SettlementRow(
            department=department,
            label=department or _("(no department)"),
            members=members.get(department, 0),
            granted=entry.get("granted", ZERO),
            topped_up=entry.get("topped_up", ZERO),
            used=-(entry.get("paid", ZERO) + entry.get("refunded", ZERO)),
            expired=-entry.get("expired", ZERO),
            personal=paid.get(department, ZERO) - refunded.get(department, ZERO),
        ))
    return rows


def settlement_totals(rows: list[SettlementRow]) -> SettlementRow:
    return SettlementRow(
        department="", label=_("Total"), members=sum(r.members for r in rows),
        granted=sum((r.granted for r in rows), ZERO), topped_up=sum((r.topped_up for r in rows), ZERO),
        used=sum((r.used for r in rows), ZERO), expired=sum((r.expired for r in rows), ZERO),
        personal=sum((r.personal for r in rows), ZERO),
    )
