"""Payment attempts, and gift cards with their append-only ledger.

``Payment.status`` follows DESIGN.md (Payments); it changes only through ``payments.services``.
Our ``out_trade_no`` is the payment's id (hex); the provider's id is stored beside it.
A gift card's ``balance`` is the running sum of its ledger entries, kept under the card's row
lock; the database refuses a negative balance on the card and on every entry.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from config.append_only import AppendOnlyModel
from config.fsm import FSMRefreshMixin
from ordering.models import Order
from stores.models import MONEY, Brand


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("Created")
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")
    UNKNOWN = "unknown", _("Unknown (being checked)")
    REFUNDED = "refunded", _("Refunded")


# Payments whose money may still arrive: they count against what is left to pay.
IN_FLIGHT = (PaymentStatus.CREATED, PaymentStatus.PENDING, PaymentStatus.UNKNOWN)


class Payment(FSMRefreshMixin, models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", verbose_name=_("brand"))
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments", verbose_name=_("order"))
    channel = models.CharField(_("channel"), max_length=20)
    amount = models.DecimalField(_("amount"), **MONEY)
    status = FSMField(
        _("status"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.CREATED, protected=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )
    gift_card = models.ForeignKey(
        "GiftCard", on_delete=models.PROTECT, null=True, blank=True, related_name="payments",
        verbose_name=_("gift card"),
    )
    provider_trade_no = models.CharField(_("provider transaction id"), max_length=64, blank=True)
    payer_account = models.CharField(_("payer account (masked)"), max_length=20, blank=True)
    failure_code = models.CharField(_("failure code"), max_length=40, blank=True)
    failure_message = models.CharField(_("failure message"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    succeeded_at = models.DateTimeField(_("succeeded at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    history = HistoricalRecords(bases=[FSMRefreshMixin])

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="payments_status_created_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_payment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.amount} ({self.get_status_display()})"

    @property
    def out_trade_no(self) -> str:
        return self.id.hex

    def get_channel_display(self) -> str:
        from .gateways import registry

        return registry.label(self.channel)

    @transition(field=status, source=PaymentStatus.CREATED, target=PaymentStatus.PENDING)
    def start(self):
        pass

    @transition(
        field=status,
        source=[PaymentStatus.CREATED, PaymentStatus.PENDING, PaymentStatus.UNKNOWN],
        target=PaymentStatus.SUCCEEDED,
    )
    def succeed(self, *, provider_trade_no: str = "", payer_account: str = "", at=None):
        self.provider_trade_no = provider_trade_no or self.provider_trade_no
        self.payer_account = payer_account or self.payer_account
        self.succeeded_at = self.finished_at = at or timezone.now()

    @transition(
        field=status,
        source=[PaymentStatus.CREATED, PaymentStatus.PENDING, PaymentStatus.UNKNOWN],
        target=PaymentStatus.FAILED,
    )
    def fail(self, *, code: str, message: str = "", at=None):
        self.failure_code, self.failure_message = code, message[:255]
        self.finished_at = at or timezone.now()

    @transition(field=status, source=[PaymentStatus.CREATED, PaymentStatus.PENDING], target=PaymentStatus.CANCELLED)
    def cancel(self, at=None):
        self.finished_at = at or timezone.now()

    @transition(field=status, source=PaymentStatus.PENDING, target=PaymentStatus.UNKNOWN)
    def mark_unknown(self):
        pass

    @transition(field=status, source=PaymentStatus.SUCCEEDED, target=PaymentStatus.REFUNDED)
    def mark_refunded(self):
        pass


class GiftCard(models.Model):
    """A stored-value card of one brand. Spend it by binding it to an account or by its code."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", verbose_name=_("brand"))
    code = models.CharField(_("card number"), max_length=20, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="gift_cards",
        verbose_name=_("bound to"),
    )
    balance = models.DecimalField(_("balance"), **MONEY, default=0)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("issued at"), default=timezone.now)
    bound_at = models.DateTimeField(_("bound at"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("gift card")
        verbose_name_plural = _("gift cards")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="payments_giftcard_balance_nonneg"),
        ]

    def __str__(self) -> str:
        return self.masked_code

    @property
    def masked_code(self) -> str:
        return f"•••• {self.code[-4:]}"


class GiftCardEntryKind(models.TextChoices):
    ISSUE = "issue", _("Issued")
    TOP_UP = "top_up", _("Top-up")
    PAYMENT = "payment", _("Payment")
    REFUND = "refund", _("Refund")
    ADJUSTMENT = "adjustment", _("Adjustment")


class GiftCardEntry(AppendOnlyModel):
    """One movement of a gift card's money. Rows are only ever added."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", verbose_name=_("brand"))
    card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="entries", verbose_name=_("gift card"))
    kind = models.CharField(_("kind"), max_length=12, choices=GiftCardEntryKind.choices)
    amount = models.DecimalField(_("amount"), **MONEY, help_text=_("Positive adds money, negative takes it."))
    balance_after = models.DecimalField(_("balance after"), **MONEY)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="gift_card_entries",
        verbose_name=_("payment"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("by"),
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("gift card entry")
        verbose_name_plural = _("gift card entries")
        ordering = ["card", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="payments_giftcardentry_amount_nonzero"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="payments_giftcardentry_balance_nonneg"),
        ]

    def __str__(self) -> str:
        return f"{self.card} {self.amount:+}"
