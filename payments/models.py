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
    # External providers: where the payer goes next, and when we ask the provider again.
    action_url = models.CharField(_("pay URL"), max_length=500, blank=True)
    qr_content = models.CharField(_("QR content"), max_length=500, blank=True)
    next_check_at = models.DateTimeField(_("next check"), null=True, blank=True)
    check_attempts = models.PositiveIntegerField(_("checks so far"), default=0)
    pay_before = models.DateTimeField(_("pay before"), null=True, blank=True)

    history = HistoricalRecords(bases=[FSMRefreshMixin], excluded_fields=["next_check_at", "check_attempts"])

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="payments_status_created_idx"),
            models.Index(fields=["next_check_at"], name="payments_next_check_idx",
                         condition=Q(next_check_at__isnull=False)),
            models.Index(fields=["channel", "succeeded_at"], name="payments_channel_succeeded_idx"),
        ]
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
    def start(self, *, action_url: str = "", qr_content: str = "", provider_trade_no: str = ""):
        self.action_url = action_url[:500]
        self.qr_content = qr_content[:500]
        self.provider_trade_no = provider_trade_no or self.provider_trade_no

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

    @transition(field=status, source=[PaymentStatus.CREATED, PaymentStatus.PENDING], target=PaymentStatus.UNKNOWN)
    def mark_unknown(self):
        """The provider did not answer (timeout, 5xx): the money may or may not have moved. An
        unknown payment is settled by query or reconciliation only: succeeded, or failed (closed)."""

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


class PaymentEventKind(models.TextChoices):
    NOTIFICATION = "notification", _("Provider notification")
    QUERY = "query", _("Query")
    START = "start", _("Payment started")
    CLOSE = "close", _("Payment closed")
    REFUND = "refund", _("Refund request")
    REFUND_QUERY = "refund_query", _("Refund query")
    CONFIRM = "confirm", _("Confirmed by staff")


class PaymentEvent(AppendOnlyModel):
    """Every exchange with a provider about a payment or refund: notifications received, queries
    and calls made, with what was answered. Rows are only ever added. A notification's provider
    event id is unique per channel: a replayed notification finds its first copy and changes
    nothing."""

    brand = models.ForeignKey(
        Brand, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("brand")
    )
    channel = models.CharField(_("channel"), max_length=20)
    kind = models.CharField(_("kind"), max_length=16, choices=PaymentEventKind.choices)
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="events", verbose_name=_("payment")
    )
    refund_attempt = models.ForeignKey(
        "RefundAttempt", on_delete=models.PROTECT, null=True, blank=True, related_name="events",
        verbose_name=_("refund"),
    )
    provider_event_id = models.CharField(_("provider event id"), max_length=64, blank=True)
    event_type = models.CharField(_("event type"), max_length=40, blank=True)
    reference = models.CharField(_("reference"), max_length=64, blank=True, help_text=_("out_trade_no / out_refund_no"))
    payload = models.JSONField(_("what was received"), default=dict, blank=True)
    outcome = models.CharField(_("outcome"), max_length=40, blank=True)
    detail = models.CharField(_("detail"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("payment event")
        verbose_name_plural = _("payment events")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider_event_id"], condition=~Q(provider_event_id=""),
                name="payments_event_provider_id_unique",
            ),
        ]
        indexes = [models.Index(fields=["reference"], name="payments_event_reference_idx")]

    def __str__(self) -> str:
        return f"{self.channel} {self.kind} {self.reference} {self.outcome}"


class RefundAttemptStatus(models.TextChoices):
    CREATED = "created", _("Created")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class RefundOrigin(models.TextChoices):
    DUPLICATE = "duplicate", _("Second payment of a paid order")
    LATE = "late", _("Payment arrived after the order ended")
    ORDER_ENDED = "order_ended", _("Part of a split payment of an order that ended unpaid")
    AMOUNT_MISMATCH = "mismatch", _("Paid amount differs from the order")
    CUSTOMER = "customer", _("Customer refund")
    STAFF = "staff", _("Refund by staff")


class RefundDestination(models.TextChoices):
    ORIGINAL = "original", _("Back to the original payment")
    GIFT_CARD = "gift_card", _("Gift card credit")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")


class RefundAttempt(FSMRefreshMixin, models.Model):
    """Money sent back through one payment's channel. ``out_refund_no`` is our key at the
    provider: derived once from what caused the refund and reused on every retry, so the provider
    never refunds it twice. The refunds of a payment never exceed its amount (checked under the
    payment's row lock)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", verbose_name=_("brand"))
    payment = models.ForeignKey(
        Payment, on_delete=models.PROTECT, related_name="refund_attempts", verbose_name=_("payment")
    )
    out_refund_no = models.CharField(_("refund number"), max_length=64, unique=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    status = FSMField(
        _("status"), max_length=20, choices=RefundAttemptStatus.choices, default=RefundAttemptStatus.CREATED,
        protected=True,
    )
    origin = models.CharField(_("why"), max_length=12, choices=RefundOrigin.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )
    provider_refund_id = models.CharField(_("provider refund id"), max_length=64, blank=True)
    failure_reason = models.CharField(_("failure reason"), max_length=255, blank=True)
    next_check_at = models.DateTimeField(_("next check"), null=True, blank=True)
    check_attempts = models.PositiveIntegerField(_("attempts so far"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    succeeded_at = models.DateTimeField(_("succeeded at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # Where the money goes: back through the payment's own channel, or (after that failed, at the
    # customer's choice) onto a gift card of theirs or by bank transfer to an account they gave.
    destination = models.CharField(
        _("destination"), max_length=16, choices=RefundDestination.choices, default=RefundDestination.ORIGINAL
    )
    credit_card = models.ForeignKey(
        GiftCard, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("gift card credited"),
    )
    bank_name = models.CharField(_("payee bank"), max_length=120, blank=True)
    bank_account_name = models.CharField(_("payee account holder"), max_length=120, blank=True)
    bank_account_last4 = models.CharField(_("payee account (last 4 digits)"), max_length=4, blank=True)
    # The full number, encrypted (config/crypto.py); shown only to the staff making the transfer.
    bank_account_encrypted = models.TextField(blank=True, editable=False)
    # Bank transfers (corporate accounts, bank destinations): the transfer's reference and receipt.
    transfer_reference = models.CharField(_("bank transfer reference"), max_length=64, blank=True)
    receipt_pdf = models.BinaryField(_("electronic receipt (PDF)"), null=True, blank=True, editable=False)

    history = HistoricalRecords(
        bases=[FSMRefreshMixin],
        excluded_fields=["next_check_at", "check_attempts", "receipt_pdf", "bank_account_encrypted"],
    )

    class Meta:
        verbose_name = _("refund to a payment channel")
        verbose_name_plural = _("refunds to payment channels")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_refundattempt_amount_positive"),
            models.CheckConstraint(
                condition=~Q(destination="gift_card") | Q(credit_card__isnull=False),
                name="payments_refundattempt_gift_card_destination_has_card",
            ),
        ]
        indexes = [
            models.Index(fields=["next_check_at"], name="payments_refund_next_check_idx",
                         condition=Q(next_check_at__isnull=False)),
            models.Index(fields=["status", "created_at"], name="payments_refund_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.out_refund_no} {self.amount} ({self.get_status_display()})"

    @property
    def by_bank_transfer(self) -> bool:
        """Settled by staff making a bank transfer (a corporate payment, or a bank destination)."""
        return self.destination == RefundDestination.BANK_TRANSFER or (
            self.destination == RefundDestination.ORIGINAL and self.payment.channel == "corporate"
        )

    @property
    def masked_bank_account(self) -> str:
        return f"•••• {self.bank_account_last4}" if self.bank_account_last4 else ""

    @transition(field=status, source=[RefundAttemptStatus.CREATED, RefundAttemptStatus.FAILED],
                target=RefundAttemptStatus.PROCESSING)
    def submit(self, *, provider_refund_id: str = ""):
        self.provider_refund_id = provider_refund_id or self.provider_refund_id
        self.failure_reason = ""
        self.finished_at = None

    @transition(field=status, source=[RefundAttemptStatus.CREATED, RefundAttemptStatus.PROCESSING],
                target=RefundAttemptStatus.SUCCEEDED)
    def succeed(self, *, provider_refund_id: str = "", at=None):
        self.provider_refund_id = provider_refund_id or self.provider_refund_id
        self.succeeded_at = self.finished_at = at or timezone.now()
        self.next_check_at = None

    @transition(field=status, source=[RefundAttemptStatus.CREATED, RefundAttemptStatus.PROCESSING],
                target=RefundAttemptStatus.FAILED)
    def fail(self, *, reason: str, at=None):
        self.failure_reason = reason[:255]
        self.finished_at = at or timezone.now()
        self.next_check_at = None


class CorporateAccount(models.Model):
    """A company that pays its employees' orders by bank transfer to the brand's account.
    Its own bank account is kept masked (last 4 digits); refunds go back to it by transfer."""

    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", verbose_name=_("brand"))
    name = models.CharField(_("company name"), max_length=120)
    bank_name = models.CharField(_("bank"), max_length=120)
    bank_account_name = models.CharField(_("account holder"), max_length=120)
    bank_account_last4 = models.CharField(_("account number (last 4 digits)"), max_length=4)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    pay_within_hours = models.PositiveIntegerField(
        _("transfer within (hours)"), default=24,
        help_text=_("How long an order paid by this company waits for the transfer before it is cancelled."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="CorporateMember", related_name="corporate_accounts",
        verbose_name=_("members"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("corporate account")
        verbose_name_plural = _("corporate accounts")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "name"], name="payments_corporate_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class CorporateMember(models.Model):
    account = models.ForeignKey(CorporateAccount, on_delete=models.CASCADE, related_name="memberships",
                                verbose_name=_("corporate account"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("member"))
    employee_number = models.CharField(_("employee number"), max_length=32, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("added at"), default=timezone.now)

    class Meta:
        verbose_name = _("corporate account member")
        verbose_name_plural = _("corporate account members")
        constraints = [
            models.UniqueConstraint(fields=["account", "user"], name="payments_corporate_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.account} / {self.user}"


class ReconciliationStatus(models.TextChoices):
    MATCHED = "matched", _("All matched")
    MISMATCHES = "mismatches", _("Mismatches to review")
    ERROR = "error", _("Statement could not be fetched")


class ReconciliationRun(models.Model):
    """One comparison of a provider's daily statement with our payments and refunds (自动对账)."""

    channel = models.CharField(_("channel"), max_length=20)
    day = models.DateField(_("day"))
    status = models.CharField(_("result"), max_length=12, choices=ReconciliationStatus.choices)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("started by"),
    )
    captures_ours = models.DecimalField(_("captured (ours)"), **MONEY, default=0)
    captures_theirs = models.DecimalField(_("captured (provider)"), **MONEY, default=0)
    refunds_ours = models.DecimalField(_("refunded (ours)"), **MONEY, default=0)
    refunds_theirs = models.DecimalField(_("refunded (provider)"), **MONEY, default=0)
    matched = models.PositiveIntegerField(_("matched"), default=0)
    mismatch_count = models.PositiveIntegerField(_("mismatches"), default=0)
    error = models.CharField(_("error"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("reconciliation run")
        verbose_name_plural = _("reconciliation runs")
        ordering = ["-day", "channel", "-started_at"]
        indexes = [models.Index(fields=["channel", "day"], name="payments_recon_channel_day_idx")]

    def __str__(self) -> str:
        return f"{self.channel} {self.day} ({self.get_status_display()})"


class MismatchKind(models.TextChoices):
    MISSING_HERE = "missing_here", _("At the provider, missing here")
    MISSING_THERE = "missing_there", _("Here, missing at the provider")
    AMOUNT_DIFFERS = "amount_differs", _("Amount differs")
    STATUS_DIFFERS = "status_differs", _("Status differs")


class ReconciliationMismatch(models.Model):
    """One line that does not agree between the provider's statement and our records."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="mismatches",
                            verbose_name=_("reconciliation run"))
    brand = models.ForeignKey(
        Brand, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("brand")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=MismatchKind.choices)
    is_refund = models.BooleanField(_("refund"), default=False)
    reference = models.CharField(_("reference"), max_length=64, help_text=_("out_trade_no / out_refund_no"))
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                verbose_name=_("payment"))
    refund_attempt = models.ForeignKey(RefundAttempt, on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="+", verbose_name=_("refund"))
    amount_ours = models.DecimalField(_("amount (ours)"), **MONEY, null=True, blank=True)
    amount_theirs = models.DecimalField(_("amount (provider)"), **MONEY, null=True, blank=True)
    status_ours = models.CharField(_("status (ours)"), max_length=20, blank=True)
    status_theirs = models.CharField(_("status (provider)"), max_length=20, blank=True)
    explanation = models.CharField(
        _("explanation"), max_length=255, blank=True,
        help_text=_("Filled in when the difference is understood (for example a payment made at midnight)."),
    )
    resolved = models.BooleanField(_("resolved"), default=False)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("resolved by"),
    )
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolution_note = models.CharField(_("resolution note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("reconciliation mismatch")
        verbose_name_plural = _("reconciliation mismatches")
        ordering = ["resolved", "-run__day", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"
