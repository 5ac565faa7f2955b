"""Append-only, hash-chained audit events.

Events are chained per brand (``chain`` = "brand:<id>", or "global" for acts outside any
brand), so that money acts of different brands never wait on one lock. Each event's
``hash`` is SHA-256 over the previous event's hash and the canonical JSON of its own
fields; ``manage.py verify_audit`` walks every chain. Rows cannot be updated or deleted
through the ORM (and, on PostgreSQL, a trigger refuses it in SQL too).
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditImmutableError(Exception):
    """Raised on any attempt to change or remove an audit event."""


class ActorType(models.TextChoices):
    USER = "user", _("User")
    SYSTEM = "system", _("System")
    TASK = "task", _("Task")


class AuditEventQuerySet(models.QuerySet):
    """Reads only: every bulk write path of the ORM refuses."""

    def update(self, **kwargs):
        raise AuditImmutableError("Audit events cannot be updated.")

    def delete(self):
        raise AuditImmutableError("Audit events cannot be deleted.")

    def bulk_update(self, *args, **kwargs):
        raise AuditImmutableError("Audit events cannot be updated.")

    def bulk_create(self, *args, **kwargs):
        raise AuditImmutableError("Audit events are appended one at a time by audit.services.audit_record.")

    def update_or_create(self, *args, **kwargs):
        raise AuditImmutableError("Audit events cannot be updated.")


class AuditChain(models.Model):
    """The head of one hash chain; locked while an event is appended to it."""

    key = models.CharField(max_length=40, unique=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)

    class Meta:
        verbose_name = _("audit chain")
        verbose_name_plural = _("audit chains")

    def __str__(self) -> str:
        return f"{self.key} #{self.last_seq}"


class AuditEvent(models.Model):
    chain = models.CharField(_("chain"), max_length=40)
    seq = models.PositiveBigIntegerField(_("sequence"))
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)
    actor_type = models.CharField(_("actor type"), max_length=10, choices=ActorType.choices)
    # Plain values, not foreign keys: deleting a user must never touch the audit trail.
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    actor_repr = models.CharField(_("actor"), max_length=150, blank=True)
    brand_id = models.BigIntegerField(_("brand id"), null=True, blank=True, db_index=True)
    action = models.CharField(_("action"), max_length=80, db_index=True)
    object_type = models.CharField(_("object type"), max_length=80, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    object_repr = models.CharField(_("object"), max_length=200, blank=True)
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2, null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    data = models.JSONField(_("data"), default=dict, blank=True)
    prev_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-created_at", "-id"]
        # Related-object machinery uses the base manager: make it the refusing one too.
        base_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_event_unique_chain_seq"),
        ]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_repr or self.object_id} ({self.chain}#{self.seq})"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditImmutableError("Audit events cannot be updated.")
        if kwargs.get("update_fields") is not None or kwargs.get("force_update"):
            raise AuditImmutableError("Audit events cannot be updated.")
        # Always an INSERT: an unsaved instance given the pk of an existing row must never
        # turn into an UPDATE of that row (Django tries UPDATE first when a pk is set).
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutableError("Audit events cannot be deleted.")


class SecurityReport(models.Model):
    """The security report of one 72-hour period (``audit.security``), for the whole platform
    (``brand_id`` empty: superusers) or one brand (its HQ). Written once, then only read."""

    brand_id = models.BigIntegerField(_("brand id"), null=True, blank=True, db_index=True)
    period_start = models.DateTimeField(_("from"))
    period_end = models.DateTimeField(_("until"))
    generated_at = models.DateTimeField(_("generated at"), default=timezone.now)
    chain_ok = models.BooleanField(_("audit chain intact"))
    data = models.JSONField(_("figures"), default=dict)

    class Meta:
        verbose_name = _("security report")
        verbose_name_plural = _("security reports")
        ordering = ["-period_end", "brand_id"]
        constraints = [
            models.UniqueConstraint(fields=["brand_id", "period_end"], name="audit_security_report_once"),
        ]

    def __str__(self) -> str:
        start, end = timezone.localtime(self.period_start), timezone.localtime(self.period_end)
        return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M}"
