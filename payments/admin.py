"""Payments and gift cards in the admin.

Payments are read-only for everybody (they change only through ``payments.services``), scoped
like the orders they belong to. Gift cards: HQ managers issue them and top them up through
``payments.services`` (custom admin views) and may switch a card off; store managers of the
brand may look. The balance is never edited: it is the sum of the append-only ledger shown inline.
"""

from __future__ import annotations

import contextlib
import json
import uuid

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from accounts.validators import normalize_phone
from config.api import DomainError
from config.net import client_ip
from ordering.admin import OrderAdmin, ReadOnlyInline, ReadOnlyScopedAdmin, RoleAccessMixin
from stores.admin.scoping import ScopedAdmin, is_hq, scope_brand_ids
from stores.models import Brand

from .errors import AmountInvalid
from .gateways import registry
from .models import IN_FLIGHT, GiftCard, GiftCardEntry, Payment, PaymentEvent, RefundAttempt, RefundAttemptStatus
from .services import gift_card_issue, gift_card_set_active, gift_card_top_up
from .services.provider import payment_sync
from .services.refunding import refund_attempt_execute


def _masked_account(value: str) -> str:
    """Payer accounts are stored masked already; show at most their last 4 characters anyway."""
    return f"•••• {value[-4:]}" if value else "-"


class ChannelFilter(admin.SimpleListFilter):
    title = _("channel")
    parameter_name = "channel"

    def lookups(self, request, model_admin):
        return [(channel, registry.label(channel)) for channel in registry.channels()]

    def queryset(self, request, queryset):
        return queryset.filter(channel=self.value()) if self.value() else queryset


class PaymentColumnsMixin:
    @admin.display(description=_("channel"), ordering="channel")
    def channel_label(self, obj):
        return registry.label(obj.channel)

    @admin.display(description=_("payer account"))
    def payer_masked(self, obj):
        return _masked_account(obj.payer_account)


class OrderPaymentInline(PaymentColumnsMixin, ReadOnlyInline):
    """The payments of an order, on the order's page (added to ``OrderAdmin.extra_inlines``)."""

    model = Payment
    fields = ("channel_label", "amount", "status", "created_at", "succeeded_at", "payer_masked", "failure_code")
    ordering = ("created_at",)
    show_change_link = True


if OrderPaymentInline not in OrderAdmin.extra_inlines:
    OrderAdmin.extra_inlines.append(OrderPaymentInline)


def _pretty_json(value) -> str:
    return format_html("<pre class=\"payment-payload\">{}</pre>", json.dumps(value, ensure_ascii=False, indent=2))


class PaymentEventInline(ReadOnlyInline):
    """Every callback, query and call about the payment, newest first."""

    model = PaymentEvent
    fk_name = "payment"
    fields = ("created_at", "kind", "event_type", "provider_event_id", "outcome", "detail")
    ordering = ("-created_at", "-pk")
    show_change_link = True


class RefundAttemptInline(ReadOnlyInline):
    model = RefundAttempt
    fields = ("out_refund_no", "amount", "status", "origin", "created_at", "succeeded_at", "failure_reason")
    ordering = ("created_at",)
    show_change_link = True


@admin.register(Payment)
class PaymentAdmin(PaymentColumnsMixin, ReadOnlyScopedAdmin):
    store_path = "order__store"
    view_roles = (Role.HQ_MANAGER, Role.STORE_MANAGER)
    list_display = ("order_link", "order_store", "channel_label", "amount", "status", "created_at", "succeeded_at",
                    "payer_masked")
    list_select_related = ("order", "order__store")
    list_filter = (ChannelFilter, "status", ("order__store", admin.RelatedOnlyFieldListFilter))
    search_fields = ("provider_trade_no",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    list_per_page = 100
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("order_link", "order_store", "brand", "channel_label", "amount", "status", "gift_card",
                           "provider_trade_no", "payer_masked", "failure_code", "failure_message")}),
        (_("Provider"), {"fields": ("out_trade_no", "action_url", "pay_before", "next_check_at", "check_attempts")}),
        (_("Times"), {"fields": ("created_at", "succeeded_at", "finished_at")}),
    )
    inlines = (RefundAttemptInline, PaymentEventInline)
    actions = ("check_now",)

    @admin.action(description=_("Ask the provider about the selected payments now"))
    def check_now(self, request, queryset):
        checked = 0
        for payment in queryset.filter(status__in=IN_FLIGHT):
            try:
                payment_sync(payment_id=payment.pk)
            except DomainError as exc:
                self.message_user(request, f"{payment.out_trade_no}: {exc.message}", messages.ERROR)
            else:
                checked += 1
        self.message_user(request, _("%(count)d payment(s) checked; payments with a final answer were skipped.")
                          % {"count": checked}, messages.SUCCESS)

    def get_search_results(self, request, queryset, search_term):
        """Our transaction number (the payment id, with or without dashes) or the provider's."""
        term = search_term.strip()
        if not term:
            return queryset, False
        query = Q(provider_trade_no=term)
        with contextlib.suppress(ValueError):
            query |= Q(pk=uuid.UUID(term))
        return queryset.filter(query), False

    @admin.display(description=_("order"), ordering="order__created_at")
    def order_link(self, obj):
        url = reverse("admin:ordering_order_change", args=[obj.order_id])
        return format_html('<a href="{}">{} #{}</a>', url, obj.order.store.code, obj.order.display_number)

    @admin.display(description=_("store"), ordering="order__store__code")
    def order_store(self, obj):
        return obj.order.store


@admin.register(PaymentEvent)
class PaymentEventAdmin(ReadOnlyScopedAdmin):
    """Callbacks received and calls made, as evidence: never changed (the database refuses too).
    Events about payments we do not know (no brand) are shown to superusers only."""

    store_path = "payment__order__store"
    view_roles = (Role.HQ_MANAGER,)
    list_display = ("created_at", "channel", "kind", "event_type", "reference", "outcome", "payment")
    list_filter = ("channel", "kind", "outcome")
    search_fields = ("reference", "provider_event_id")
    date_hierarchy = "created_at"
    list_per_page = 100
    show_full_result_count = False
    fields = ("created_at", "brand", "channel", "kind", "event_type", "provider_event_id", "reference", "payment",
              "refund_attempt", "outcome", "detail", "payload_pretty")

    @admin.display(description=_("what was received"))
    def payload_pretty(self, obj):
        return _pretty_json(obj.payload)


@admin.register(RefundAttempt)
class RefundAttemptAdmin(ReadOnlyScopedAdmin):
    """Money sent back through a payment's channel. Read-only: refunds move only through the
    services; "check now" asks the provider again (the same refund number, never a second refund)."""

    store_path = "payment__order__store"
    view_roles = (Role.HQ_MANAGER, Role.STORE_MANAGER)
    list_display = ("out_refund_no", "payment_channel", "amount", "status", "origin", "created_at", "succeeded_at",
                    "failure_reason")
    list_select_related = ("payment",)
    list_filter = ("status", "origin", "payment__channel")
    search_fields = ("out_refund_no", "provider_refund_id")
    date_hierarchy = "created_at"
    list_per_page = 100
    fieldsets = (
        (None, {"fields": ("out_refund_no", "payment", "amount", "status", "origin", "reason", "created_by",
                           "provider_refund_id", "failure_reason", "transfer_reference", "receipt_link")}),
        (_("Times"), {"fields": ("created_at", "succeeded_at", "finished_at", "next_check_at", "check_attempts")}),
    )
    actions = ["check_now"]

    def get_inlines(self, request, obj):
        return (RefundEventInline,)

    @admin.display(description=_("channel"), ordering="payment__channel")
    def payment_channel(self, obj):
        return registry.label(obj.payment.channel)

    @admin.display(description=_("electronic receipt"))
    def receipt_link(self, obj):
        # Corporate bank transfers keep a PDF receipt (payments.admin_corporate serves it).
        if not obj.pk or obj.receipt_pdf is None:
            return "-"
        try:
            url = reverse("admin:payments_refundattempt_receipt", args=[obj.pk])
        except NoReverseMatch:
            return _("kept (%(size)d bytes)") % {"size": len(obj.receipt_pdf)}
        return format_html('<a href="{}">{}</a>', url, _("Download PDF"))

    @admin.action(description=_("Ask about the selected refunds now"))
    def check_now(self, request, queryset):
        count = 0
        for attempt in queryset.filter(status__in=(RefundAttemptStatus.CREATED, RefundAttemptStatus.PROCESSING)):
            refund_attempt_execute(attempt_id=attempt.pk)
            count += 1
        self.message_user(request, _("%(count)d refund(s) checked; finished ones were skipped.") % {"count": count},
                          messages.SUCCESS)


class RefundEventInline(PaymentEventInline):
    fk_name = "refund_attempt"


# --- Gift cards ---------------------------------------------------------------


class GiftCardEntryInline(ReadOnlyInline):
    """The card's ledger: append-only, so shown and never edited."""

    model = GiftCardEntry
    fields = ("created_at", "kind", "amount", "balance_after", "payment", "actor_display", "note")
    ordering = ("created_at", "pk")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("payment", "actor")

    @admin.display(description=_("by"))
    def actor_display(self, obj):
        return obj.actor.masked_phone if obj.actor_id else _("system")


class AmountField(forms.CharField):
    """Kept as text: ``payments.services`` checks the amount (one rule, one set of messages)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Amount (CNY)"))
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)


class GiftCardTopUpForm(forms.Form):
    amount = AmountField()
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


class GiftCardIssueForm(GiftCardTopUpForm):
    brand = forms.ModelChoiceField(label=_("Brand"), queryset=Brand.objects.none())
    owner_phone = forms.CharField(
        label=_("Bind to the account with phone"), max_length=20, required=False,
        help_text=_("Optional: the customer's mobile number. Leave empty for an unbound card."),
    )
    field_order = ("brand", "amount", "owner_phone", "note")

    def __init__(self, *args, brands, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["brand"].queryset = brands
        if brands.count() == 1:
            self.fields["brand"].initial = brands.first()

    def clean_owner_phone(self):
        phone = normalize_phone(self.cleaned_data.get("owner_phone", ""))
        if not phone:
            return None
        owner = User.objects.filter(phone=phone).first()
        if owner is None:
            raise forms.ValidationError(_("No account has this phone number."))
        return owner


def _service_error(form, error: DomainError) -> None:
    form.add_error("amount" if isinstance(error, AmountInvalid) else None, error.message)


@admin.register(GiftCard)
class GiftCardAdmin(RoleAccessMixin, ScopedAdmin):
    view_roles = (Role.HQ_MANAGER, Role.STORE_MANAGER)
    list_display = ("masked_code", "brand", "owner_phone", "balance", "is_active", "created_at")
    list_display_links = ("masked_code",)
    list_select_related = ("brand", "owner")
    list_filter = ("is_active", ("brand", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("code", "owner__phone")
    ordering = ("-created_at",)
    list_per_page = 100
    inlines = (GiftCardEntryInline,)
    fields = ("brand", "owner_phone", "balance", "is_active", "created_at", "bound_at")
    readonly_fields = ("brand", "owner_phone", "balance", "created_at", "bound_at")

    def get_search_results(self, request, queryset, search_term):
        """The last digits of a card number or of its owner's phone."""
        term = normalize_phone(search_term.strip())
        if not term:
            return queryset, False
        if not (term.isascii() and term.isdigit()):
            return queryset.none(), False
        return queryset.filter(Q(code__endswith=term) | Q(owner__phone__endswith=term)), False

    # permissions: HQ manage (switch off, issue, top up); store managers look ----

    def may_manage(self, request, obj=None) -> bool:
        brand_id = obj.brand_id if obj is not None else None
        return self.role_may_view(request) and is_hq(request, brand_id)

    def has_add_permission(self, request, *args):
        return False  # "Issue gift card" instead: a card starts with money and a ledger entry

    def has_change_permission(self, request, obj=None):
        return self.may_manage(request, obj) and self.in_scope(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Only the on/off switch is editable; write that column alone, so that a payment taking
        money from the card at the same moment is never overwritten with a stale balance."""
        if "is_active" in form.changed_data:
            gift_card_set_active(actor=request.user, card_id=obj.pk, active=obj.is_active, ip=client_ip(request))

    # columns -----------------------------------------------------------------

    @admin.display(description=_("card number"), ordering="code")
    def masked_code(self, obj):
        return obj.masked_code

    @admin.display(description=_("card number"))
    def full_card_number(self, obj):
        return " ".join(obj.code[i:i + 4] for i in range(0, len(obj.code), 4))

    @admin.display(description=_("bound to"))
    def owner_phone(self, obj):
        return obj.owner.masked_phone if obj is not None and obj.owner_id else "-"

    def get_fields(self, request, obj=None):
        # The full number only on the page of one card, and only to the brand's HQ.
        number = "full_card_number" if obj is not None and self.may_manage(request, obj) else "masked_code"
        return (number, *self.fields)

    def get_readonly_fields(self, request, obj=None):
        return ("full_card_number", "masked_code", *super().get_readonly_fields(request, obj))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "may_top_up": False}
        if object_id:
            obj = self.get_object(request, object_id)
            extra_context["may_top_up"] = obj is not None and obj.is_active and self.may_manage(request, obj)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "may_issue": self.may_manage(request)}
        return super().changelist_view(request, extra_context)

    # issue and top up ----------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("issue/", view(self.issue_view), name="payments_giftcard_issue"),
            path("<path:object_id>/top-up/", view(self.top_up_view), name="payments_giftcard_topup"),
            *super().get_urls(),
        ]

    def _render(self, request, form, *, title, card=None):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "form": form,
            "card": card,
            "changelist_url": reverse("admin:payments_giftcard_changelist"),
        }
        return TemplateResponse(request, "admin/payments/giftcard/money_form.html", context)

    def issue_view(self, request):
        if not self.may_manage(request):
            raise PermissionDenied
        brand_ids = scope_brand_ids(request)
        brands = Brand.objects.order_by("code")
        if brand_ids is not None:
            brands = brands.filter(pk__in=brand_ids)
        form = GiftCardIssueForm(request.POST or None, brands=brands)
        if request.method == "POST" and form.is_valid():
            brand = form.cleaned_data["brand"]
            if not is_hq(request, brand.pk):
                raise PermissionDenied
            try:
                card = gift_card_issue(
                    actor=request.user, brand=brand, amount=form.cleaned_data["amount"],
                    owner=form.cleaned_data["owner_phone"], note=form.cleaned_data["note"], ip=client_ip(request),
                )
            except DomainError as error:
                _service_error(form, error)
            else:
                self.message_user(
                    request, _("Gift card %(card)s issued with %(amount)s CNY.") % {
                        "card": card.masked_code, "amount": card.balance},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:payments_giftcard_change", args=[card.pk]))
        return self._render(request, form, title=_("Issue gift card"))

    def top_up_view(self, request, object_id):
        card = self.get_object(request, object_id)
        if card is None:
            raise Http404
        if not self.may_manage(request, card):
            raise PermissionDenied
        form = GiftCardTopUpForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                card = gift_card_top_up(
                    actor=request.user, card_id=card.pk, amount=form.cleaned_data["amount"],
                    note=form.cleaned_data["note"], ip=client_ip(request),
                )
            except DomainError as error:
                _service_error(form, error)
            else:
                self.message_user(
                    request, _("Gift card %(card)s topped up; balance %(balance)s CNY.") % {
                        "card": card.masked_code, "balance": card.balance},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:payments_giftcard_change", args=[card.pk]))
        return self._render(request, form, title=_("Top up gift card %(card)s") % {"card": card.masked_code},
                            card=card)


from . import admin_corporate  # noqa: E402,F401
from . import admin_reconciliation as _admin_reconciliation  # noqa: E402,F401
