"""Refund requests, their lines and allocations, the per-brand refund policy, and the per-order tally.

``RefundRequest.status`` follows DESIGN.md (Refunds) and changes only through ``refunds.services``:

    requested --auto_approve--> approved --submit--> processing --succeed--> succeeded
    requested --send_to_review--> pending_review --approve--> approved
    requested --block--> rejected                  (a risk rule froze the account)
    pending_review --reject--> rejected            pending_review --withdraw--> withdrawn
    processing --fail--> failed --redirect--> processing   (another destination, or a retry)

The money: a request *holds* its amount from the moment it is made until it is rejected or
withdrawn. What the requests of an order hold never exceeds what the order kept of its payments:
checked under the order's row lock, and by the database on ``OrderRefundTally`` (``committed <=
paid``), which every service moves in the same transaction as the request.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition
from simple_history.models import HistoricalRecords

from config.fsm import FSMRefreshMixin
from ordering.models import Order, OrderLine
from payments.models import Payment, RefundAttempt
from stores.models import MONEY, Brand, Store


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    PENDING_REVIEW = "pending_review", _("Waiting for review")
    APPROVED = "approved", _("Approved")
    PROCESSING = "processing", _("Refund in progress")
    SUCCEEDED = "succeeded", _("Refunded")
    REJECTED = "rejected", _("Rejected")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    FAILED = "failed", _("Refund failed")


# Requests whose amount is held against the order's money (everything but rejected / withdrawn).
HOLDING = (
    RefundStatus.REQUESTED, RefundStatus.PENDING_REVIEW, RefundStatus.APPROVED, RefundStatus.PROCESSING,
    RefundStatus.SUCCEEDED, RefundStatus.FAILED,
)
OPEN = (RefundStatus.REQUESTED, RefundStatus.PENDING_REVIEW, RefundStatus.APPROVED, RefundStatus.PROCESSING,
        RefundStatus.FAILED)


class RefundReason(models.TextChoices):
    CHANGED_PLANS = "changed_plans", _("Changed my plans")
    WRONG_DISH = "wrong_dish", _("Wrong dish")
    MISSING_ITEM = "missing_item", _("Something was missing")
    QUALITY = "quality", _("Quality problem (cold, spilled, spoiled)")
    TASTE = "taste", _("Did not taste right")
    LATE = "late", _("Took too long / late delivery")
    DUPLICATE = "duplicate", _("Ordered twice by mistake")
    OTHER = "other", _("Other")


class RefundSource(models.TextChoices):
    CUSTOMER = "customer", _("Customer, online")
    COUNTER = "counter", _("Store counter (staff)")


class RefundPolicy(models.Model):
    """A brand's refund rules. ``version`` goes up on every change and is snapshotted on each
    request with the values it was decided by."""

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="refund_policy",
                                 verbose_name=_("brand"))
    auto_approve_limit = models.DecimalField(
        _("approve automatically up to (CNY)"), **MONEY, default=Decimal("100.00"),
        validators=[MinValueValidator(Decimal("0.00")), MaxValueValidator(Decimal("100000.00"))],
        help_text=_("Refunds of at most this amount on orders not yet being prepared, with no risk flag, "
                    "are approved without review."),
    )
    review_minutes = models.PositiveSmallIntegerField(
        _("review within (minutes)"), default=30, validators=[MinValueValidator(1), MaxValueValidator(1440)],
        help_text=_("After this, an open review is escalated to HQ."),
    )
    window_days = models.PositiveSmallIntegerField(
        _("customers may ask within (days)"), default=7, validators=[MinValueValidator(1), MaxValueValidator(90)],
        help_text=_("Counted from payment (unredeemed orders) or from collection (redeemed orders)."),
    )
    velocity_max_per_hour = models.PositiveSmallIntegerField(
        _("refund requests per customer per hour before freezing"), default=10,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
    )
    ratio_threshold = models.DecimalField(
        _("refund / paid ratio over 30 days that needs review"), max_digits=4, decimal_places=2,
        default=Decimal("0.50"), validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("1.00"))],
    )
    ratio_min_orders = models.PositiveSmallIntegerField(
        _("orders in 30 days before the ratio counts"), default=3,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
    )
    network_rule_enabled = models.BooleanField(
        _("watch many accounts from one network"), default=True,
        help_text=_("Switch off for canteens where everybody shares one network address."),
    )
    network_window_minutes = models.PositiveSmallIntegerField(
        _("network window (minutes)"), default=10, validators=[MinValueValidator(1), MaxValueValidator(1440)],
    )
    ip_max_accounts = models.PositiveSmallIntegerField(
        _("accounts asking from one IP address in the window"), default=5,
        validators=[MinValueValidator(2), MaxValueValidator(10000)],
    )
    subnet_max_accounts = models.PositiveSmallIntegerField(
        _("accounts asking from one /24 subnet in the window"), default=10,
        validators=[MinValueValidator(2), MaxValueValidator(10000)],
    )
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("refund policy")
        verbose_name_plural = _("refund policies")

    def __str__(self) -> str:
        return f"{self.brand} v{self.version}"

    def snapshot(self) -> dict:
        """The values a request was decided by (stored on the request, as text for amounts)."""
        return {
            "version": self.version,
            "auto_approve_limit": str(self.auto_approve_limit),
            "review_minutes": self.review_minutes,
            "window_days": self.window_days,
            "rules": {
                "velocity": {"max_per_hour": self.velocity_max_per_hour},
                "ratio": {"threshold": str(self.ratio_threshold), "min_orders": self.ratio_min_orders, "days": 30},
                "network": {"enabled": self.network_rule_enabled, "window_minutes": self.network_window_minutes,
                            "ip_max_accounts": self.ip_max_accounts,
                            "subnet_max_accounts": self.subnet_max_accounts},
            },
        }


class RefundRequest(FSMRefreshMixin, models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+", verbose_name=_("brand"))
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="+", verbose_name=_("store"))
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refund_requests",
                              verbose_name=_("order"))
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refund_requests",
        verbose_name=_("customer"),
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("requested by"),
        help_text=_("The customer, or the staff member at the counter."),
    )
    source = models.CharField(_("asked at"), max_length=10, choices=RefundSource.choices,
                              default=RefundSource.CUSTOMER)
    status = FSMField(_("status"), max_length=20, choices=RefundStatus.choices, default=RefundStatus.REQUESTED,
                      protected=True)
    amount = models.DecimalField(_("amount"), **MONEY)
    delivery_fee = models.DecimalField(_("of which delivery fee"), **MONEY, default=Decimal("0.00"))
    is_full = models.BooleanField(_("whole order"), default=False)
    order_status = models.CharField(_("order status when asked"), max_length=20)
    reason_code = models.CharField(_("reason"), max_length=20, choices=RefundReason.choices)
    reason_text = models.CharField(_("reason in the customer's words"), max_length=500, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    network = models.CharField(_("network (/24 or /64)"), max_length=50, blank=True)
    user_agent = models.CharField(_("browser"), max_length=300, blank=True)
    # How it was decided: the policy's values and version, and every risk rule that fired.
    policy = models.JSONField(_("policy applied"), default=dict, blank=True)
    risk_flags = models.JSONField(_("risk flags"), default=list, blank=True)
    decision = models.CharField(_("decision"), max_length=200, blank=True)
    review_deadline = models.DateTimeField(_("review by"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated to HQ at"), null=True, blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("reviewed by"),
    )
    review_note = models.CharField(_("review note"), max_length=500, blank=True)
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    failure_reason = models.CharField(_("why the refund failed"), max_length=255, blank=True)
    # {dish id: portions} given back to stock by this request (refunds before preparation).
    stock_released = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("asked at"), default=timezone.now)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    history = HistoricalRecords(bases=[FSMRefreshMixin], excluded_fields=["user_agent"])

    class Meta:
        verbose_name = _("refund request")
        verbose_name_plural = _("refund requests")
        ordering = ["-created_at"]
        permissions = [("review_refundrequest", _("Can approve or reject refund requests"))]
        indexes = [
            models.Index(fields=["status", "review_deadline"], name="refunds_status_deadline_idx"),
            models.Index(fields=["customer", "created_at"], name="refunds_customer_created_idx"),
            models.Index(fields=["ip", "created_at"], name="refunds_ip_created_idx"),
            models.Index(fields=["network", "created_at"], name="refunds_network_created_idx"),
            models.Index(fields=["store", "status"], name="refunds_store_status_idx"),
            models.Index(fields=["approved_at"], name="refunds_approved_at_idx"),  # reports: late decisions
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refunds_request_amount_positive"),
            models.CheckConstraint(
                condition=Q(delivery_fee__gte=0) & Q(delivery_fee__lte=models.F("amount")),
                name="refunds_request_delivery_fee_within_amount",
            ),
            # The four-eyes rule, in the database too.
            models.CheckConstraint(
                condition=Q(reviewer__isnull=True) | ~Q(reviewer=models.F("requested_by")),
                name="refunds_request_reviewer_not_requester",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.display_number} {self.amount} ({self.get_status_display()})"

    @property
    def display_number(self) -> str:
        return f"R{self.id.hex[:10].upper()}"

    @property
    def is_overdue(self) -> bool:
        return (self.status == RefundStatus.PENDING_REVIEW and self.review_deadline is not None
                and self.review_deadline <= timezone.now())

    # Transitions change fields on self only; services lock, save, audit and notify.

    @transition(field=status, source=RefundStatus.REQUESTED, target=RefundStatus.APPROVED)
    def auto_approve(self, *, at=None):
        self.approved_at = at or timezone.now()
        self.decision = "auto"

    @transition(field=status, source=RefundStatus.REQUESTED, target=RefundStatus.PENDING_REVIEW)
    def send_to_review(self, *, deadline, why: str):
        self.review_deadline = deadline
        self.decision = why[:200]

    @transition(field=status, source=RefundStatus.REQUESTED, target=RefundStatus.REJECTED)
    def block(self, *, why: str, at=None):
        self.decision = why[:200]
        self.finished_at = at or timezone.now()

    @transition(field=status, source=RefundStatus.PENDING_REVIEW, target=RefundStatus.APPROVED)
    def approve(self, *, reviewer, note: str = "", at=None):
        self.reviewer, self.review_note = reviewer, note[:500]
        self.reviewed_at = self.approved_at = at or timezone.now()

    @transition(field=status, source=RefundStatus.PENDING_REVIEW, target=RefundStatus.REJECTED)
    def reject(self, *, reviewer, note: str, at=None):
        self.reviewer, self.review_note = reviewer, note[:500]
        self.reviewed_at = self.finished_at = at or timezone.now()

    @transition(field=status, source=RefundStatus.PENDING_REVIEW, target=RefundStatus.WITHDRAWN)
    def withdraw(self, *, at=None):
        self.finished_at = at or timezone.now()

    @transition(field=status, source=RefundStatus.APPROVED, target=RefundStatus.PROCESSING)
    def submit(self, *, at=None):
        self.submitted_at = at or timezone.now()

    @transition(field=status, source=RefundStatus.PROCESSING, target=RefundStatus.SUCCEEDED)
    def succeed(self, *, at=None):
        self.finished_at = at or timezone.now()
        self.failure_reason = ""

    @transition(field=status, source=RefundStatus.PROCESSING, target=RefundStatus.FAILED)
    def fail(self, *, reason: str, at=None):
        self.failure_reason = reason[:255]
        self.finished_at = at or timezone.now()

    @transition(field=status, source=RefundStatus.FAILED, target=RefundStatus.PROCESSING)
    def redirect(self, *, at=None):
        self.finished_at = None
        self.submitted_at = at or timezone.now()


class RefundLine(models.Model):
    """Part of an order line refunded: ``quantity`` of its portions at the price paid for them."""

    refund = models.ForeignKey(RefundRequest, on_delete=models.CASCADE, related_name="lines",
                               verbose_name=_("refund request"))
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="refund_lines",
                                   verbose_name=_("order line"))
    quantity = models.PositiveSmallIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        verbose_name = _("refund line")
        verbose_name_plural = _("refund lines")
        ordering = ["refund", "order_line__position"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="refunds_line_quantity_positive"),
            models.UniqueConstraint(fields=["refund", "order_line"], name="refunds_line_once_per_request"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.order_line.name}"


class RefundAllocation(models.Model):
    """The share of a request sent back from one payment, as one refund attempt of the payments
    app. After a failure the customer's new destination (or a retry) is a new allocation that
    ``replaces`` the failed one; the live allocations are those nothing replaces."""

    refund = models.ForeignKey(RefundRequest, on_delete=models.CASCADE, related_name="allocations",
                               verbose_name=_("refund request"))
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="+", verbose_name=_("payment"))
    amount = models.DecimalField(_("amount"), **MONEY)
    attempt = models.OneToOneField(RefundAttempt, on_delete=models.PROTECT, related_name="allocation",
                                   verbose_name=_("refund to the channel"))
    replaces = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="replaced_by", verbose_name=_("replaces"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("refund allocation")
        verbose_name_plural = _("refund allocations")
        ordering = ["refund", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refunds_allocation_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.refund.display_number}: {self.amount} from {self.payment_id}"


class OrderRefundTally(models.Model):
    """Per order: what it kept of its payments (``paid``) and what its refund requests hold
    (``committed``). Moved only by the refund services under the order's row lock; the database
    refuses ``committed > paid``."""

    order = models.OneToOneField(Order, on_delete=models.PROTECT, primary_key=True, related_name="refund_tally")
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="+")
    paid = models.DecimalField(**MONEY, default=Decimal("0.00"))
    committed = models.DecimalField(**MONEY, default=Decimal("0.00"))
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("order refund tally")
        verbose_name_plural = _("order refund tallies")
        constraints = [
            models.CheckConstraint(condition=Q(committed__gte=0) & Q(paid__gte=0),
                                   name="refunds_tally_nonnegative"),
            models.CheckConstraint(condition=Q(committed__lte=models.F("paid")),
                                   name="refunds_tally_committed_within_paid"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.committed} of {self.paid}"
