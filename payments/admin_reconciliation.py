"""Reconciliation (自动对账) in the admin: the per-day summary, "Reconcile a date", and the
mismatch queue with its "Resolve" page.

Who: superusers and HQ managers only (store managers and kitchen staff get 403). A provider's
statement covers every brand (one merchant account per channel), so:

- runs are listed for HQ managers with the counts of *their brand's* mismatches and a status
  derived from them; the money totals and the matched count are merchant-wide figures and are
  shown to superusers only;
- HQ managers see and resolve their brand's mismatches only. Provider lines we cannot attribute
  to a brand (a capture whose number we do not know) have no brand and are for superusers only.

Everything is read-only here; the views call ``payments.services.reconciliation`` and nothing
else writes.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Case, CharField, Count, IntegerField, Q, Value, When
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.models import Role
from config.api import DomainError
from config.net import client_ip
from ordering.admin import ReadOnlyInline, RoleAccessMixin
from stores.admin.scoping import TenantScopedMixin, is_hq, scope_brand_ids

from .gateways import registry
from .models import ReconciliationMismatch, ReconciliationRun, ReconciliationStatus
from .services.reconciliation import (
    NOTE_MAX_LENGTH,
    may_review_mismatch,
    provider_today,
    reconcile_day,
    reconciled_channels,
    reconciliation_mismatch_resolve,
    reconciliation_runs_latest,
)

FORM_TEMPLATE = "admin/payments/reconciliation/form.html"


def _brand_filter(request, prefix: str = "") -> Q | None:
    """Mismatches the user may see: ``None`` for superusers (all), else their brand's."""
    brand_ids = scope_brand_ids(request)
    return None if brand_ids is None else Q(**{f"{prefix}brand_id__in": brand_ids})


class ReconciliationAccessMixin(RoleAccessMixin):
    """Superusers and HQ managers; nobody adds, changes or deletes rows here."""

    view_roles = (Role.HQ_MANAGER,)

    def role_may_view(self, request) -> bool:
        return super().role_may_view(request) and is_hq(request)

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class HistoryFilter(admin.SimpleListFilter):
    """By default only the newest run of each channel and day (a re-run supersedes a run)."""

    title = _("runs")
    parameter_name = "runs"
    run_path = ""  # lookup from the listed model to the run ("" for the run itself)

    def lookups(self, request, model_admin):
        return [("all", _("Every run (history)"))]

    def choices(self, changelist):
        yield {"selected": self.value() is None, "display": _("Latest run of each day"),
               "query_string": changelist.get_query_string(remove=[self.parameter_name])}
        yield {"selected": self.value() == "all", "display": _("Every run (history)"),
               "query_string": changelist.get_query_string({self.parameter_name: "all"})}

    def queryset(self, request, queryset):
        if self.value() == "all":
            return queryset
        latest = reconciliation_runs_latest()
        if not self.run_path:
            return queryset.filter(pk__in=latest.values("pk"))
        return queryset.filter(**{f"{self.run_path}__in": latest.values("pk")})


class MismatchHistoryFilter(HistoryFilter):
    run_path = "run"


class ChannelFilter(admin.SimpleListFilter):
    title = _("channel")
    parameter_name = "channel"
    channel_path = "channel"

    def lookups(self, request, model_admin):
        return [(channel, registry.label(channel)) for channel in reconciled_channels()]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.channel_path: self.value()}) if self.value() else queryset


class MismatchChannelFilter(ChannelFilter):
    channel_path = "run__channel"


class ExplainedFilter(admin.SimpleListFilter):
    title = _("explained")
    parameter_name = "explained"

    def lookups(self, request, model_admin):
        return [("no", _("Unexplained")), ("yes", _("Explained"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(explanation="")
        if self.value() == "yes":
            return queryset.exclude(explanation="")
        return queryset


def _channel_label(channel: str) -> str:
    return registry.label(channel)


# --- mismatches inline (on a run's page) ----------------------------------------------------------


class MismatchInline(ReadOnlyInline):
    model = ReconciliationMismatch
    fields = ("kind", "is_refund", "reference", "brand", "amount_ours", "amount_theirs", "status_ours",
              "status_theirs", "explanation", "resolved", "resolution_note")
    ordering = ("resolved", "pk")
    show_change_link = True

    def get_queryset(self, request):
        qs = super().get_queryset(request).select_related("brand")
        brand_q = _brand_filter(request)
        return qs if brand_q is None else qs.filter(brand_q)


# --- runs: the per-day summary ------------------------------------------------------------------------


class ReconcileDateForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"))
    day = forms.DateField(label=_("Day"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                          help_text=_("The provider's day (Asia/Shanghai), today or earlier."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(c, _channel_label(c)) for c in reconciled_channels()]

    def clean_day(self):
        day = self.cleaned_data["day"]
        if day > provider_today():
            raise forms.ValidationError(_("A day in the future has no statement yet."))
        return day


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReconciliationAccessMixin, admin.ModelAdmin):
    list_filter = (HistoryFilter, ChannelFilter, "status")
    date_hierarchy = "day"
    list_per_page = 100
    show_full_result_count = False
    inlines = (MismatchInline,)
    SUPERUSER_COLUMNS = ("captures_ours", "captures_theirs", "refunds_ours", "refunds_theirs", "matched")

    def in_scope(self, request, obj) -> bool:
        return True  # runs carry no brand; their mismatches are scoped (inline, counts)

    def get_queryset(self, request):
        brand_q = _brand_filter(request, "mismatches__")
        scoped = Q(mismatches__isnull=False) if brand_q is None else brand_q
        qs = super().get_queryset(request).select_related("started_by").annotate(
            shown_mismatches=Count("mismatches", filter=scoped),
            shown_unexplained=Count("mismatches", filter=scoped & Q(mismatches__explanation="")),
            shown_open=Count("mismatches", filter=scoped & Q(mismatches__resolved=False)),
        )
        # The result as the user may see it: a run whose mismatches all belong to other brands
        # is "matched" for this brand's HQ.
        return qs.annotate(shown_status=Case(
            When(status=ReconciliationStatus.ERROR, then=Value(ReconciliationStatus.ERROR)),
            When(shown_mismatches=0, then=Value(ReconciliationStatus.MATCHED)),
            default=Value(ReconciliationStatus.MISMATCHES), output_field=CharField(),
        ))

    def get_ordering(self, request):
        return ("-day", "channel", "-started_at", "-pk")

    def get_list_display(self, request):
        columns = ["day", "channel_label", "result"]
        if request.user.is_superuser:
            columns += list(self.SUPERUSER_COLUMNS)
        return (*columns, "mismatches", "unexplained", "open", "started_at", "started_by_display")

    def get_list_display_links(self, request, list_display):
        return ("day",)

    def get_fields(self, request, obj=None):
        fields = ["channel_label", "day", "result", "started_at", "started_by_display"]
        if request.user.is_superuser:
            fields += list(self.SUPERUSER_COLUMNS)
        return (*fields, "mismatches", "unexplained", "open", "error")

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    # columns ---------------------------------------------------------------

    @admin.display(description=_("channel"), ordering="channel")
    def channel_label(self, obj):
        return _channel_label(obj.channel)

    @admin.display(description=_("result"), ordering="shown_status")
    def result(self, obj):
        return ReconciliationStatus(getattr(obj, "shown_status", obj.status)).label

    @admin.display(description=_("mismatches"), ordering="shown_mismatches")
    def mismatches(self, obj):
        return obj.shown_mismatches

    @admin.display(description=_("unexplained"), ordering="shown_unexplained")
    def unexplained(self, obj):
        return obj.shown_unexplained

    @admin.display(description=_("not resolved"), ordering="shown_open")
    def open(self, obj):
        return obj.shown_open

    @admin.display(description=_("started by"))
    def started_by_display(self, obj):
        return obj.started_by.masked_phone if obj.started_by_id else _("system (daily task)")

    # "Reconcile a date" ---------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("reconcile/", view(self.reconcile_view), name="payments_reconciliationrun_reconcile"),
                *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_reconcile": self.role_may_view(request)}
        return super().changelist_view(request, extra_context)

    def reconcile_view(self, request):
        if not self.role_may_view(request):
            raise PermissionDenied
        form = ReconcileDateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                run = reconcile_day(channel=form.cleaned_data["channel"], day=form.cleaned_data["day"],
                                    actor=request.user, ip=client_ip(request))
            except DomainError as error:
                form.add_error(None, error.message)
            else:
                self._report(request, run)
                return HttpResponseRedirect(reverse("admin:payments_reconciliationrun_change", args=[run.pk]))
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
            "title": _("Reconcile a date"), "submit_label": _("Reconcile"),
            "intro": _("Fetches the provider's statement of that day and compares it with our payments and "
                       "refunds. Each run is kept; the list shows the latest of each day."),
            "changelist_url": reverse("admin:payments_reconciliationrun_changelist"),
        }
        return TemplateResponse(request, FORM_TEMPLATE, context)

    def _report(self, request, run: ReconciliationRun) -> None:
        names = {"channel": _channel_label(run.channel), "day": run.day.isoformat()}
        if run.status == ReconciliationStatus.ERROR:
            self.message_user(request, _("%(channel)s, %(day)s: the statement could not be fetched (%(error)s).")
                              % {**names, "error": run.error}, messages.ERROR)
            return
        shown = run.mismatches.all()
        brand_q = _brand_filter(request)
        if brand_q is not None:
            shown = shown.filter(brand_q)
        counts = shown.aggregate(total=Count("pk"), unexplained=Count("pk", filter=Q(explanation="")))
        if not counts["total"]:
            self.message_user(request, _("%(channel)s, %(day)s: everything matched.") % names, messages.SUCCESS)
            return
        self.message_user(
            request,
            _("%(channel)s, %(day)s: %(total)d mismatch(es), %(unexplained)d of them unexplained.")
            % {**names, **counts},
            messages.WARNING if counts["unexplained"] else messages.SUCCESS,
        )


# --- mismatches: the review queue ------------------------------------------------------------------


class ResolveForm(forms.Form):
    note = forms.CharField(
        label=_("What was done"), max_length=NOTE_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Required: how the difference was settled (for example \"refunded at the provider\")."),
    )


@admin.register(ReconciliationMismatch)
class ReconciliationMismatchAdmin(ReconciliationAccessMixin, TenantScopedMixin, admin.ModelAdmin):
    list_display = ("day", "channel_label", "kind", "is_refund", "reference", "brand", "amount_ours",
                    "amount_theirs", "status_ours", "status_theirs", "explanation", "resolved")
    list_display_links = ("kind",)
    list_filter = (MismatchHistoryFilter, "kind", ExplainedFilter, "resolved", MismatchChannelFilter, "is_refund")
    list_select_related = ("run", "brand")
    search_fields = ("reference",)
    list_per_page = 100
    show_full_result_count = False
    actions = ("resolve_selected",)
    fieldsets = (
        (None, {"fields": ("run", "channel_label", "day", "brand", "kind", "is_refund", "reference", "payment",
                           "refund_attempt")}),
        (_("Ours and theirs"), {"fields": ("amount_ours", "amount_theirs", "status_ours", "status_theirs",
                                           "explanation")}),
        (_("Resolution"), {"fields": ("resolved", "resolved_by_display", "resolved_at", "resolution_note")}),
    )

    def get_ordering(self, request):
        # Unresolved first, and among them the unexplained ones; newest day first.
        unexplained_first = Case(When(explanation="", then=Value(0)), default=Value(1), output_field=IntegerField())
        return ("resolved", unexplained_first.asc(), "-run__day", "pk")

    def get_readonly_fields(self, request, obj=None):
        return helpers.flatten_fieldsets(self.fieldsets)

    @admin.display(description=_("day"), ordering="run__day")
    def day(self, obj):
        return obj.run.day

    @admin.display(description=_("channel"), ordering="run__channel")
    def channel_label(self, obj):
        return _channel_label(obj.run.channel)

    @admin.display(description=_("resolved by"))
    def resolved_by_display(self, obj):
        return obj.resolved_by.masked_phone if obj.resolved_by_id else "-"

    # resolving ----------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("<path:object_id>/resolve/", view(self.resolve_view),
                     name="payments_reconciliationmismatch_resolve"),
                *super().get_urls()]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_resolve": False}
        if object_id:
            obj = self.get_object(request, object_id)
            extra_context["may_resolve"] = (obj is not None and not obj.resolved
                                            and may_review_mismatch(request.user, obj.brand_id))
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _render_resolve(self, request, form, mismatches, *, selected=False):
        context = {
            **self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
            "items": mismatches, "selected": selected, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "title": ngettext("Resolve a mismatch", "Resolve %(count)d mismatches", len(mismatches))
            % {"count": len(mismatches)},
            "submit_label": _("Mark resolved"),
            "intro": _("Write down what was done. The note is kept with the mismatch and in the audit log."),
            "changelist_url": reverse("admin:payments_reconciliationmismatch_changelist"),
        }
        return TemplateResponse(request, FORM_TEMPLATE, context)

    def resolve_view(self, request, object_id):
        mismatch = self.get_object(request, object_id)
        if mismatch is None:
            raise Http404
        if not (self.role_may_view(request) and may_review_mismatch(request.user, mismatch.brand_id)):
            raise PermissionDenied
        form = ResolveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                reconciliation_mismatch_resolve(actor=request.user, mismatch_id=mismatch.pk,
                                                note=form.cleaned_data["note"], ip=client_ip(request))
            except DomainError as error:
                form.add_error("note", error.message)
            else:
                self.message_user(request, _("Mismatch %(reference)s resolved.") % {"reference": mismatch.reference},
                                  messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:payments_reconciliationmismatch_change",
                                                    args=[mismatch.pk]))
        return self._render_resolve(request, form, [mismatch])

    @admin.action(description=_("Resolve the selected mismatches (with a note)"))
    def resolve_selected(self, request, queryset):
        mismatches = [m for m in queryset.select_related("run") if not m.resolved
                      and may_review_mismatch(request.user, m.brand_id)]
        if not mismatches:
            self.message_user(request, _("None of the selected mismatches is waiting for you."), messages.WARNING)
            return None
        form = ResolveForm(request.POST if request.POST.get("apply") else None)
        if not form.is_valid():
            return self._render_resolve(request, form, mismatches, selected=True)
        done, errors = 0, []
        for mismatch in mismatches:
            try:
                reconciliation_mismatch_resolve(actor=request.user, mismatch_id=mismatch.pk,
                                                note=form.cleaned_data["note"], ip=client_ip(request))
            except DomainError as error:
                errors.append(f"{mismatch.reference}: {error.message}")
            else:
                done += 1
        self.message_user(request, ngettext("%(count)d mismatch resolved.", "%(count)d mismatches resolved.", done)
                          % {"count": done}, messages.SUCCESS)
        for error in errors:
            self.message_user(request, error, messages.ERROR)
        return None
