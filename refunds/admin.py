"""Refunds in the admin: the review console and the brands' refund policies.

- Refund requests: the changelist is the review queue (requests waiting for review first,
  soonest deadline first, overdue ones marked), scoped like every admin (HQ: their brand; store
  managers: their stores). Nothing is added, edited or deleted here: requests come from customers
  and the store counter, and every field (the protected FSM status and the money above all) is
  read-only. A request's page is the review screen: the order, its payments, earlier refunds of the
  order and of the customer, the customer's last 30 days, risk flags, the policy it was decided by
  and its timeline; with "Approve" / "Reject" (a note; required to reject) and, for a failed
  refund, "Send again". Those POST to views that call ``refunds.services`` and nothing else.
  When the customer's account is frozen, the screen says so; a freeze by one of this brand's risk
  rules shows its reason and the brand's HQ managers lift it there, with a reason of their own
  (``refund_customer_unfreeze``, audited in the brand's chain). A freeze of another brand's or
  of the platform's is only named, and lifted by superusers. The queue filters requests by
  frozen customers.
- Refund policies: one per brand, kept by the brand's HQ managers; a change goes through
  ``refund_policy_update`` (which bumps the version and audits it), never ``save()``.
"""

from __future__ import annotations

import contextlib
import uuid

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, F, IntegerField, Q, Value, When
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.models import Role
from accounts.validators import normalize_phone
from config.api import DomainError
from config.net import client_ip
from ordering.admin import ReadOnlyScopedAdmin, RoleAccessMixin
from ordering.models import OrderStatus
from payments.gateways import registry
from payments.models import Payment
from stores.admin.scoping import ScopedAdmin, is_hq, user_brand_id

from .errors import RefundForbidden
from .models import RefundPolicy, RefundRequest, RefundStatus
from .selectors import (
    customer_refund_stats,
    customer_refunds_for_staff,
    order_refundable,
    refund_get_for_staff,
    refund_list_for_order,
    refund_timeline,
)
from .services import refund_approve, refund_customer_unfreeze, refund_policy_update, refund_reject, refund_retry
from .services.approving import NOTE_MAX, may_review
from .services.freezing import freeze_is_brands, may_unfreeze
from .services.policy_admin import EDITABLE

RISK_RULES = {
    "velocity": _("Many requests within an hour"),
    "ratio": _("High refund / paid ratio over 30 days"),
    "network_ip": _("Many accounts from one IP address"),
    "network_subnet": _("Many accounts from one subnet"),
}


def _error_text(error: Exception) -> str:
    """The message a service refused with (a domain error, or a model validation error)."""
    if isinstance(error, DomainError):
        return str(error.message)
    if isinstance(error, ValidationError):
        return " ".join(str(message) for message in error.messages)
    return str(error)


def _when(value) -> str:
    return date_format(timezone.localtime(value), "Y-m-d H:i") if value else "-"


def _person(user) -> str:
    if user is None:
        return "-"
    return f"{user.name} ({user.masked_phone})" if getattr(user, "name", "") else user.masked_phone


def _badge(text, kind: str) -> str:
    return format_html('<span class="refund-badge refund-{}">{}</span>', kind, text)


def risk_flag_rows(flags) -> list[tuple[str, str, bool]]:
    """(rule, what it saw, whether it froze the account) for each recorded risk flag."""
    rows = []
    for flag in flags or []:
        if not isinstance(flag, dict):
            rows.append((str(flag), "", False))
            continue
        rule = str(flag.get("rule", "?"))
        seen = ", ".join(f"{key}: {value}" for key, value in flag.items() if key not in ("rule", "freezes"))
        rows.append((str(RISK_RULES.get(rule, rule)), seen, bool(flag.get("freezes"))))
    return rows


def policy_rows(snapshot, prefix: str = "") -> list[tuple[str, str]]:
    """A policy snapshot (nested dict) as (setting, value) rows."""
    rows = []
    for key, value in sorted((snapshot or {}).items()):
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows.extend(policy_rows(value, prefix=f"{name}."))
        else:
            rows.append((name, str(value)))
    return rows


# --- Refund requests: the review queue ----------------------------------------------------------


class _YesNoFilter(admin.SimpleListFilter):
    """Rows where ``condition`` holds ("yes") or does not ("no")."""

    condition: Q
    labels = (_("Yes"), _("No"))

    def lookups(self, request, model_admin):
        return [("yes", self.labels[0]), ("no", self.labels[1])]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(self.condition)
        if self.value() == "no":
            return queryset.exclude(self.condition)
        return queryset


class EscalatedFilter(_YesNoFilter):
    title = _("escalated to HQ")
    parameter_name = "escalated"
    condition = Q(escalated_at__isnull=False)


class FrozenCustomerFilter(_YesNoFilter):
    """The requests of customers whose account is frozen now: where HQ finds them to unfreeze."""

    title = _("customer's account")
    parameter_name = "customer_frozen"
    condition = Q(customer__is_frozen=True)
    labels = (_("frozen"), _("not frozen"))


class OverdueFilter(admin.SimpleListFilter):
    title = _("review overdue")
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", _("Overdue")), ("no", _("In time"))]

    def queryset(self, request, queryset):
        overdue = Q(status=RefundStatus.PENDING_REVIEW, review_deadline__lte=timezone.now())
        if self.value() == "yes":
            return queryset.filter(overdue)
        if self.value() == "no":
            return queryset.filter(status=RefundStatus.PENDING_REVIEW).exclude(overdue)
        return queryset


@admin.register(RefundRequest)
class RefundRequestAdmin(ReadOnlyScopedAdmin):
    """Read-only rows; decisions through the review screen's buttons (``refunds.services``)."""

    store_path = "store"
    view_roles = (Role.HQ_MANAGER, Role.STORE_MANAGER)
    change_form_template = "admin/refunds/refundrequest/change_form.html"
    change_list_template = "admin/refunds/refundrequest/change_list.html"

    list_display = ("number", "order_label", "store", "customer_masked", "amount", "reason_code", "status",
                    "risk_badges", "deadline", "requester")
    list_display_links = ("number",)
    list_select_related = ("order", "store", "customer", "requested_by")
    list_filter = ("status", ("store", admin.RelatedOnlyFieldListFilter), "reason_code", EscalatedFilter,
                   OverdueFilter, FrozenCustomerFilter, "source")
    search_fields = ("order__number", "customer__phone")  # see get_search_results
    search_help_text = _("An order number (7, 007 or #007), or the last digits of the customer's phone.")
    list_per_page = 50
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("number", "order_label", "store", "customer_masked", "requester", "source", "status",
                           "amount", "delivery_fee", "is_full", "order_status_label", "reason_code", "reason_text")}),
        (_("Review"), {"fields": ("decision", "deadline", "escalated_at", "reviewer_masked", "review_note",
                                  "reviewed_at")}),
        (_("Risk"), {"fields": ("risk_table", "ip", "network")}),
        (_("Times"), {"fields": ("created_at", "approved_at", "submitted_at", "finished_at", "failure_reason")}),
    )

    def get_ordering(self, request):
        # The queue: waiting for review first, soonest deadline first; then the rest, newest first.
        waiting = Q(status=RefundStatus.PENDING_REVIEW)
        return (
            Case(When(waiting, then=Value(0)), default=Value(1), output_field=IntegerField()).asc(),
            Case(When(waiting, then=F("review_deadline")), default=None).asc(nulls_last=True),
            "-created_at",
        )

    def get_search_results(self, request, queryset, search_term):
        """An order number (``7``, ``007`` or ``#007``), (the last digits of) a customer's phone,
        or a request's id."""
        term = search_term.strip()
        if not term:
            return queryset, False
        query = Q(pk__in=[])
        number = term.lstrip("#")
        if number.isascii() and number.isdigit() and len(number) <= 9:
            query |= Q(order__number=int(number))
        phone = normalize_phone(term)
        if phone.isascii() and phone.isdigit() and len(phone) >= 4:
            query |= Q(customer__phone__endswith=phone)
        with contextlib.suppress(ValueError):
            query |= Q(pk=uuid.UUID(term))
        return queryset.filter(query), False

    # columns -------------------------------------------------------------------------------------

    @admin.display(description=_("refund"))
    def number(self, obj):
        return obj.display_number

    @admin.display(description=_("order"), ordering="order__number")
    def order_label(self, obj):
        return f"{obj.store.code} #{obj.order.display_number}"

    @admin.display(description=_("customer"))
    def customer_masked(self, obj):
        return obj.customer.masked_phone

    @admin.display(description=_("asked by"))
    def requester(self, obj):
        if obj.requested_by_id == obj.customer_id:
            return _("the customer")
        return format_html("{} ({})", obj.requested_by.masked_phone, _("staff at the counter"))

    @admin.display(description=_("order status when asked"))
    def order_status_label(self, obj):
        try:
            return OrderStatus(obj.order_status).label
        except ValueError:
            return obj.order_status or "-"

    @admin.display(description=_("reviewed by"))
    def reviewer_masked(self, obj):
        return _person(obj.reviewer) if obj.reviewer_id else "-"

    @admin.display(description=_("risk flags"))
    def risk_badges(self, obj):
        rows = risk_flag_rows(obj.risk_flags)
        if not rows:
            return "-"
        return format_html_join(" ", '<span class="refund-badge refund-risk" title="{}">{}</span>',
                                ((seen, rule) for rule, seen, _freezes in rows))

    @admin.display(description=_("review by"), ordering="review_deadline")
    def deadline(self, obj):
        if obj.review_deadline is None:
            return "-"
        badges = []
        if obj.is_overdue:
            badges.append(_badge(_("overdue"), "overdue"))
        if obj.escalated_at is not None:
            badges.append(_badge(_("escalated to HQ"), "escalated"))
        return format_html("{} {}", _when(obj.review_deadline), format_html_join(" ", "{}", ((b,) for b in badges)))

    @admin.display(description=_("risk flags"))
    def risk_table(self, obj):
        rows = risk_flag_rows(obj.risk_flags)
        if not rows:
            return _("No risk rule fired")
        return format_html(
            '<table class="refund-risk-flags">{}</table>',
            format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>",
                             ((rule, seen, _("freezes the account") if freezes else "")
                              for rule, seen, freezes in rows)),
        )

    # the review screen -----------------------------------------------------------------------

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        try:
            refund = refund_get_for_staff(user=request.user, refund_id=unquote(object_id))
        except DomainError:
            raise Http404 from None
        if not self.has_view_permission(request, refund):
            raise Http404
        context = {**(extra_context or {}), **self.review_context(request, refund)}
        return super().change_view(request, object_id, form_url, context)

    def review_context(self, request, refund: RefundRequest) -> dict:
        user = request.user
        order = refund.order
        asked = {line.order_line_id: line for line in refund.lines.all()}
        refundable = {row.line.pk: row.remaining for row in order_refundable(order).lines}
        lines = [
            {"line": line, "asked": asked[line.pk].quantity if line.pk in asked else 0,
             "asked_amount": asked[line.pk].amount if line.pk in asked else None,
             "remaining": refundable.get(line.pk)}
            for line in order.lines.order_by("position")
        ]
        payments = [
            {"payment": payment, "channel": registry.label(payment.channel)}
            for payment in Payment.objects.filter(order=order).order_by("created_at", "pk")
        ]
        replaced = {a.replaces_id for a in refund.allocations.all() if a.replaces_id}
        allocations = [
            {"allocation": a, "channel": registry.label(a.payment.channel), "live": a.pk not in replaced}
            for a in refund.allocations.all()
        ]
        reviewer = may_review(user, refund)
        own = user.pk in (refund.requested_by_id, refund.customer_id)
        pending = refund.status == RefundStatus.PENDING_REVIEW
        return {
            "refund": refund,
            "refund_order": order,
            "order_lines": lines,
            "order_payments": payments,
            "allocations": allocations,
            "order_refunds": [r for r in refund_list_for_order(order) if r.pk != refund.pk],
            "customer_refunds": customer_refunds_for_staff(user=user, customer=refund.customer,
                                                           exclude_order_id=order.pk),
            "customer_stats": customer_refund_stats(refund.customer),
            "risk_rows": risk_flag_rows(refund.risk_flags),
            "policy_rows": policy_rows(refund.policy),
            "timeline": refund_timeline(refund),
            "may_decide": pending and reviewer and not own,
            "own_request": pending and reviewer and own,
            "may_retry": refund.status == RefundStatus.FAILED and reviewer,
            "customer_frozen": refund.customer.is_frozen,
            "freeze_is_ours": freeze_is_brands(user, refund),
            "may_unfreeze": may_unfreeze(user, refund),
            "note_max": NOTE_MAX,
            "order_url": self._order_url(request, order),
        }

    @staticmethod
    def _order_url(request, order) -> str | None:
        order_admin = admin.site._registry.get(type(order))
        if order_admin is None or not order_admin.has_view_permission(request, order):
            return None
        return reverse("admin:ordering_order_change", args=[order.pk])

    # decisions: POST only (admin_view adds the CSRF check), one service call each ------------------

    def get_urls(self):
        from django.views.decorators.http import require_POST

        view = self.admin_site.admin_view
        return [
            path("<path:object_id>/approve/", view(require_POST(self.approve_view)),
                 name="refunds_refundrequest_approve"),
            path("<path:object_id>/reject/", view(require_POST(self.reject_view)),
                 name="refunds_refundrequest_reject"),
            path("<path:object_id>/retry/", view(require_POST(self.retry_view)),
                 name="refunds_refundrequest_retry"),
            path("<path:object_id>/unfreeze-customer/", view(require_POST(self.unfreeze_view)),
                 name="refunds_refundrequest_unfreeze"),
            *super().get_urls(),
        ]

    def _decide(self, request, object_id, call, success):
        refund = self.get_object(request, unquote(object_id))
        if refund is None:
            raise Http404
        if not self.has_view_permission(request, refund):
            raise PermissionDenied
        try:
            refund = call(refund)
        except (DomainError, ValidationError) as error:
            self.message_user(request, _error_text(error), messages.ERROR)
        else:
            self.message_user(request, success % {"number": refund.display_number, "amount": refund.amount},
                              messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:refunds_refundrequest_change", args=[refund.pk]))

    def unfreeze_view(self, request, object_id):
        refund = self.get_object(request, unquote(object_id))
        if refund is None:
            raise Http404
        if not self.has_view_permission(request, refund):
            raise PermissionDenied
        try:
            customer = refund_customer_unfreeze(actor=request.user, refund_id=refund.pk,
                                                reason=request.POST.get("reason", ""), ip=client_ip(request))
        except RefundForbidden:
            raise PermissionDenied from None  # the form is not offered to them either
        except DomainError as error:
            self.message_user(request, _error_text(error), messages.ERROR)
        else:
            self.message_user(request, _("Account %(phone)s unfrozen: the customer may order and ask for refunds "
                                         "again.") % {"phone": customer.masked_phone}, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:refunds_refundrequest_change", args=[refund.pk]))

    def approve_view(self, request, object_id):
        return self._decide(
            request, object_id,
            lambda refund: refund_approve(actor=request.user, refund_id=refund.pk, note=request.POST.get("note", ""),
                                          ip=client_ip(request)),
            _("Refund %(number)s approved: %(amount)s CNY goes back to the customer."),
        )

    def reject_view(self, request, object_id):
        return self._decide(
            request, object_id,
            lambda refund: refund_reject(actor=request.user, refund_id=refund.pk, note=request.POST.get("note", ""),
                                         ip=client_ip(request)),
            _("Refund %(number)s rejected; the customer is told why."),
        )

    def retry_view(self, request, object_id):
        return self._decide(
            request, object_id,
            lambda refund: refund_retry(actor=request.user, refund_id=refund.pk, ip=client_ip(request)),
            _("Refund %(number)s sent again: %(amount)s CNY through the original channel."),
        )


# --- Refund policies ------------------------------------------------------------------------


@admin.register(RefundPolicy)
class RefundPolicyAdmin(RoleAccessMixin, ScopedAdmin):
    """One policy per brand. Seen and changed by the brand's HQ managers (and superusers);
    saved by ``refund_policy_update``, which bumps the version and writes the audit event."""

    list_display = ("brand", "version", "auto_approve_limit", "review_minutes", "window_days",
                    "velocity_max_per_hour", "ratio_threshold", "network_rule_enabled", "updated_at")
    list_select_related = ("brand",)
    ordering = ("brand__code",)
    fieldsets = (
        (None, {"fields": ("brand", "version", "updated_at")}),
        (_("Decisions"), {"fields": ("auto_approve_limit", "review_minutes", "window_days")}),
        (_("Risk rules"), {"fields": ("velocity_max_per_hour", "ratio_threshold", "ratio_min_orders",
                                      "network_rule_enabled", "network_window_minutes", "ip_max_accounts",
                                      "subnet_max_accounts")}),
    )
    readonly_fields = ("version", "updated_at")

    def may_manage(self, request, obj=None) -> bool:
        user = request.user
        brand_id = obj.brand_id if obj is not None else None
        return (self.role_may_view(request) and user.has_perm("refunds.change_refundpolicy")
                and is_hq(request, brand_id) and self.in_scope(request, obj))

    def has_add_permission(self, request, *args):
        # Policies are made with the defaults when first needed; HQ may set one up before that.
        if not self.may_manage(request):
            return False
        if request.user.is_superuser:
            return True
        brand_id = user_brand_id(request)
        return brand_id is not None and not RefundPolicy.objects.filter(brand_id=brand_id).exists()

    def has_change_permission(self, request, obj=None):
        return self.may_manage(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # requests keep the snapshot they were decided by; the brand keeps a policy

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if self.get_object(request, unquote(object_id)) is None:
            raise Http404  # another brand's policy answers like an unknown one
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        """Never ``obj.save()``: the service locks the row, applies the changes, bumps the version
        and audits. Only the fields the form changed are passed on (a concurrent change of
        another field by somebody else is kept)."""
        names = [name for name in EDITABLE if name in form.cleaned_data]
        if change:
            names = [name for name in names if name in form.changed_data]
        changes = {name: form.cleaned_data[name] for name in names}
        try:
            policy = refund_policy_update(actor=request.user, brand_id=obj.brand_id, changes=changes,
                                          ip=client_ip(request))
        except (DomainError, ValidationError) as error:
            request._refund_policy_error = _error_text(error)
            return
        obj.pk, obj.version, obj.updated_at = policy.pk, policy.version, policy.updated_at

    def _refused(self, request, obj):
        error = getattr(request, "_refund_policy_error", None)
        if error is None:
            return None
        self.message_user(request, error, messages.ERROR)
        if obj.pk:
            return HttpResponseRedirect(reverse("admin:refunds_refundpolicy_change", args=[obj.pk]))
        return HttpResponseRedirect(reverse("admin:refunds_refundpolicy_changelist"))

    def log_change(self, request, obj, message):
        if getattr(request, "_refund_policy_error", None) is None:
            return super().log_change(request, obj, message)
        return None

    def log_addition(self, request, obj, message):
        if getattr(request, "_refund_policy_error", None) is None:
            return super().log_addition(request, obj, message)
        return None

    def response_change(self, request, obj):
        return self._refused(request, obj) or super().response_change(request, obj)

    def response_add(self, request, obj, post_url_continue=None):
        return self._refused(request, obj) or super().response_add(request, obj, post_url_continue)
