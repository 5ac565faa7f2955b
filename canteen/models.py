"""Canteens: organisations (a school or a company), their members, and each member's meal
subsidy wallet, kept as an append-only ledger whose sum is the balance (never negative).

Money moves only through ``canteen.services`` under the wallet's row lock; the database refuses
a negative balance, a second monthly grant or expiry for the same member and month, a second
entry for the same idempotency key, and applying a batch line twice.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from config.append_only import AppendOnlyModel
from payments.models import Payment, RefundAttempt
from stores.models import MONEY, Allergen, Brand, Store


class OrganisationKind(models.TextChoices):
    SCHOOL = "school", _("School or university")
    COMPANY = "company", _("Company")


class MonthEnd(models.TextChoices):
    EXPIRE = "expire", _("What is left expires at month end")
    CARRY_OVER = "carry_over", _("What is left carries over")


class Organisation(models.Model):
    """A school or company whose members eat at the stores of a (canteen) brand."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="organisations", verbose_name=_("brand"))
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=OrganisationKind.choices,
                            default=OrganisationKind.COMPANY)
    stores = models.ManyToManyField(Store, related_name="organisations", verbose_name=_("stores serving it"))
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="canteen_organisations",
                                   verbose_name=_("canteen staff"),
                                   help_text=_("Canteen staff who top up and see this organisation's members."))
    monthly_amount = models.DecimalField(_("monthly subsidy"), **MONEY, default=Decimal("0.00"),
                                         validators=[MinValueValidator(Decimal("0"))])
    per_meal_cap = models.DecimalField(_("subsidy per meal, at most"), **MONEY, default=Decimal("20.00"),
                                       validators=[MinValueValidator(Decimal("0"))])
    month_end = models.CharField(_("at month end"), max_length=12, choices=MonthEnd.choices, default=MonthEnd.EXPIRE)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(monthly_amount__gte=0) & Q(per_meal_cap__gte=0),
                                   name="canteen_org_amounts_nonneg"),
        ]

    def __str__(self) -> str:
        return self.name


class DietaryNeed(models.TextChoices):
    VEGETARIAN = "vegetarian", _("Vegetarian")
    HALAL = "halal", _("Halal")
    LOW_SUGAR = "low_sugar", _("Low sugar")
    LOW_SALT = "low_salt", _("Low salt")


class Member(models.Model):
    """A person of an organisation who eats with its subsidy; one organisation per account."""

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="members",
                                     verbose_name=_("organisation"))
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="canteen_member",
                                verbose_name=_("account"))
    number = models.CharField(_("member number"), max_length=32,
                              help_text=_("Student or staff number, as in the campus-card / OA system."))
    name = models.CharField(_("name"), max_length=60)
    department = models.CharField(_("department"), max_length=60, blank=True)
    dietary_needs = models.JSONField(_("dietary needs"), default=list, blank=True,
                                     help_text=_("Any of: vegetarian, halal, low_sugar, low_salt."))
    allergies = models.ManyToManyField(Allergen, blank=True, related_name="+", verbose_name=_("allergies"))
    is_active = models.BooleanField(_("active"), default=True)
    joined_at = models.DateTimeField(_("joined at"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["organisation", "number"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "number"], name="canteen_member_number_unique"),
        ]
        indexes = [models.Index(fields=["organisation", "department"], name="canteen_member_dept_idx")]

    def __str__(self) -> str:
        return f"{self.name} ({self.number})"


class SubsidyWallet(models.Model):
    """A member's meal subsidy: ``balance`` is the running sum of its entries."""

    member = models.OneToOneField(Member, on_delete=models.PROTECT, primary_key=True, related_name="wallet",
                                  verbose_name=_("member"))
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    balance = models.DecimalField(_("balance"), **MONEY, default=Decimal("0.00"))
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)

    class Meta:
        verbose_name = _("subsidy wallet")
        verbose_name_plural = _("subsidy wallets")
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="canteen_wallet_balance_nonneg")]

    def __str__(self) -> str:
        return f"{self.member}: {self.balance}"


class EntryKind(models.TextChoices):
    TOPUP = "topup", _("Top-up by canteen staff")
    GRANT = "grant", _("Monthly grant")
    PAYMENT = "payment", _("Meal payment")
    REFUND = "refund", _("Refund")
    EXPIRY = "expiry", _("Expired at month end")
    ADJUSTMENT = "adjustment", _("Adjustment")


class TopupBatch(models.Model):
    """A CSV of top-ups: checked row by row (the preview), then applied all or nothing, once."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", _("Checked, not applied")
        APPLIED = "applied", _("Applied")

    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="batches",
                                     verbose_name=_("organisation"))
    file_name = models.CharField(_("file"), max_length=200)
    sha256 = models.CharField(_("content fingerprint"), max_length=64)
    rows = models.JSONField(_("rows"), default=list)
    line_count = models.PositiveIntegerField(_("lines"), default=0)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2, default=Decimal("0.00"))
    error_count = models.PositiveIntegerField(_("lines with an error"), default=0)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PREVIEWED)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("uploaded by"))
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                   null=True, blank=True, verbose_name=_("applied by"))
    applied_at = models.DateTimeField(_("applied at"), null=True, blank=True)

    class Meta:
        verbose_name = _("top-up batch")
        verbose_name_plural = _("top-up batches")
        ordering = ["-created_at"]
        constraints = [
            # The same file applied twice credits once: one applied batch per content.
            models.UniqueConstraint(fields=["organisation", "sha256"], condition=Q(status="applied"),
                                    name="canteen_batch_applied_once"),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.line_count})"


class SubsidyEntry(AppendOnlyModel):
    """One movement of a member's subsidy. Rows are only ever added."""

    wallet = models.ForeignKey(SubsidyWallet, on_delete=models.PROTECT, related_name="entries",
                               verbose_name=_("wallet"))
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=EntryKind.choices)
    amount = models.DecimalField(_("amount"), **MONEY, help_text=_("Positive adds money, negative takes it."))
    balance_after = models.DecimalField(_("balance after"), **MONEY)
    month = models.DateField(_("month"), null=True, blank=True, help_text=_("Grants and expiries: the month."))
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("payment"))
    refund_attempt = models.OneToOneField(RefundAttempt, on_delete=models.PROTECT, null=True, blank=True,
                                          related_name="+", verbose_name=_("refund"))
    batch = models.ForeignKey(TopupBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="entries",
                              verbose_name=_("batch"))
    batch_line = models.PositiveIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=100, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+", verbose_name=_("by"))
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("subsidy entry")
        verbose_name_plural = _("subsidy entries")
        ordering = ["wallet", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="canteen_entry_amount_nonzero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="canteen_entry_balance_nonneg"),
            models.UniqueConstraint(fields=["wallet", "kind", "month"], condition=Q(kind__in=["grant", "expiry"]),
                                    name="canteen_entry_once_per_month"),
            models.UniqueConstraint(fields=["organisation", "idempotency_key"], condition=~Q(idempotency_key=""),
                                    name="canteen_entry_idempotency_unique"),
            models.UniqueConstraint(fields=["batch", "batch_line"], condition=Q(batch__isnull=False),
                                    name="canteen_entry_batch_line_once"),
            models.UniqueConstraint(fields=["payment"], condition=Q(kind="payment"),
                                    name="canteen_entry_one_per_payment"),
        ]
        indexes = [models.Index(fields=["organisation", "kind", "created_at"], name="canteen_entry_org_kind_idx")]

    def __str__(self) -> str:
        return f"{self.wallet_id} {self.kind} {self.amount:+}"
