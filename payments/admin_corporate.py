"""Corporate accounts in the admin, and the bank transfers HQ records for them.

- Corporate accounts (companies whose employees pay by bank transfer) with their members inline,
  kept by the brand's HQ managers (superusers: any brand). Members are added by phone number;
  a member is switched off, never deleted, so past payments keep their company.
- "Bank transfers" (a page of the corporate account admin, linked from its list): the corporate
  payments waiting for their transfer ("Confirm transfer received", with the bank reference),
  the refunds waiting for finance's transfer (of corporate payments, and refunds customers
  redirected to their bank account: "Record refund transfer") and the
  refunds recorded lately with their electronic receipt (PDF).

The views call ``payments.services.corporate`` and nothing else writes. The payment and refund
admins (``payments.admin``) get the two admin actions below, shown to HQ only, which open the
same pages for the one selected row; the refund admin's "electronic receipt" field links to the
receipt view by its URL name ``admin:payments_refundattempt_receipt``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from accounts.validators import normalize_phone
from config.api import DomainError
from config.net import client_ip
from ordering.admin import RoleAccessMixin
from stores.admin.scoping import ScopedAdmin, is_hq, scope_brand_ids, user_brand_id

from .admin import PaymentAdmin, RefundAttemptAdmin
from .gateways.corporate import CORPORATE
from .models import (
    CorporateAccount,
    CorporateMember,
    Payment,
    PaymentStatus,
    RefundAttempt,
    RefundAttemptStatus,
    RefundDestination,
)
from .receipts import mask_account
from .services.corporate import (
    REFERENCE_MAX_LENGTH,
    TransferReferenceInvalid,
    corporate_account_for_payment,
    corporate_membership_record,
    corporate_transfer_confirm,
    refund_bank_account_reveal,
    refund_transfer_record,
)

# Refunds that finance settles by bank transfer: of corporate payments, and those a customer
# redirected to a bank account after the original channel failed.
TRANSFER_REFUNDS = Q(payment__channel=CORPORATE, destination=RefundDestination.ORIGINAL) | Q(
    destination=RefundDestination.BANK_TRANSFER
)

RECENT_RECEIPTS = 20

# --- Accounts and members -----------------------------------------------------------------


class CorporateMemberForm(forms.ModelForm):
    phone = forms.CharField(
        label=_("Mobile number"), max_length=20, required=False,
        help_text=_("The member's account (the phone number they log in with)."),
    )

    class Meta:
        model = CorporateMember
        fields = ("phone", "employee_number", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["phone"].disabled = True
            self.fields["phone"].initial = self.instance.user.masked_phone
            self.fields["phone"].help_text = ""

    def clean_phone(self):
        if self.instance.pk:
            return self.instance.user.phone
        phone = normalize_phone(self.cleaned_data.get("phone", ""))
        if not phone:
            raise forms.ValidationError(_("Enter the member's mobile number."))
        user = User.objects.filter(phone=phone, is_active=True).first()
        if user is None:
            raise forms.ValidationError(_("No account has this phone number."))
        self.instance.user = user
        return phone


class CorporateMemberFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        account = self.instance
        existing = set(account.memberships.values_list("user_id", flat=True)) if account.pk else set()
        seen = set()
        for form in self.forms:
            if not form.has_changed() or form.instance.pk or not hasattr(form, "cleaned_data"):
                continue
            user_id = getattr(form.instance, "user_id", None)
            if user_id is None:
                continue
            if user_id in existing or user_id in seen:
                form.add_error("phone", _("This account is a member of this company already."))
            seen.add(user_id)


class CorporateMemberInline(admin.TabularInline):
    model = CorporateMember
    form = CorporateMemberForm
    formset = CorporateMemberFormSet
    fields = ("phone", "employee_number", "is_active", "created_at")
    readonly_fields = ("created_at",)
    extra = 1
    can_delete = False  # switched off instead: past payments keep their company

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")

    def _may_manage(self, request, obj):
        return is_hq(request, obj.brand_id if obj is not None else None)

    def has_view_permission(self, request, obj=None):
        return True  # the account's page checks who may see it

    def has_add_permission(self, request, obj=None):
        return self._may_manage(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._may_manage(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False


class CorporateAccountForm(forms.ModelForm):
    scope_brand_id: int | None = None  # the HQ manager's brand (set by the admin)

    class Meta:
        model = CorporateAccount
        fields = ("brand", "name", "bank_name", "bank_account_name", "bank_account_last4", "contact_phone",
                  "pay_within_hours", "is_active")

    def clean_bank_account_last4(self):
        value = self.cleaned_data["bank_account_last4"].strip()
        if not (len(value) == 4 and value.isascii() and value.isdigit()):
            raise forms.ValidationError(_("Enter the last 4 digits of the company's account number."))
        return value

    def clean_pay_within_hours(self):
        value = self.cleaned_data["pay_within_hours"]
        if not 1 <= value <= 24 * 30:
            raise forms.ValidationError(_("Between 1 hour and 720 hours (30 days)."))
        return value

    def clean(self):
        data = super().clean()
        brand = data.get("brand")
        brand_id = brand.pk if brand is not None else (self.instance.brand_id or self.scope_brand_id)
        name = data.get("name")
        if brand_id and name:
            clash = CorporateAccount.objects.filter(brand_id=brand_id, name=name).exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("name", _("This brand has a corporate account with this name already."))
        return data


@admin.register(CorporateAccount)
class CorporateAccountAdmin(RoleAccessMixin, ScopedAdmin):
    """HQ managers of the brand (and superusers) only: the company's bank details and its members
    decide who may order now and pay later."""

    view_roles = (Role.HQ_MANAGER,)
    form = CorporateAccountForm
    inlines = (CorporateMemberInline,)
    list_display = ("name", "brand", "bank_name", "account_masked", "pay_within_hours", "member_count", "is_active")
    list_filter = ("is_active", ("brand", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "bank_account_name")
    list_select_related = ("brand",)
    ordering = ("brand", "name")
    fields = ("brand", "name", "bank_name", "bank_account_name", "bank_account_last4", "contact_phone",
              "pay_within_hours", "is_active", "created_at")
    readonly_fields = ("created_at",)

    def role_may_view(self, request) -> bool:
        return super().role_may_view(request) and is_hq(request)

    def has_add_permission(self, request, *args):
        return self.role_may_view(request)

    def has_change_permission(self, request, obj=None):
        brand_id = obj.brand_id if obj is not None else None
        return self.role_may_view(request) and is_hq(request, brand_id) and self.in_scope(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False  # switched off instead: its payments and refunds point at it

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"scope_brand_id": user_brand_id(request)})

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            active_members=Count("memberships", filter=Q(memberships__is_active=True))
        )

    @admin.display(description=_("account number"))
    def account_masked(self, obj):
        return mask_account(obj.bank_account_last4)

    @admin.display(description=_("active members"), ordering="active_members")
    def member_count(self, obj):
        return obj.active_members

    def save_formset(self, request, form, formset, change):
        if formset.model is not CorporateMember:
            return super().save_formset(request, form, formset, change)
        added = [f.instance for f in formset.forms if f.has_changed() and f.instance.pk is None
                 and f not in formset.deleted_forms]
        changed = [f.instance for f in formset.forms if f.has_changed() and f.instance.pk is not None]
        super().save_formset(request, form, formset, change)
        corporate_membership_record(actor=request.user, account=form.instance, added=added, changed=changed,
                                    ip=client_ip(request))

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "transfers_url": reverse("admin:payments_corporate_transfers")}
        return super().changelist_view(request, extra_context)

    # bank transfers ----------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("transfers/", view(self.transfers_view), name="payments_corporate_transfers"),
            path("transfers/payment/<uuid:payment_id>/confirm/", view(self.confirm_view),
                 name="payments_corporate_confirm"),
            path("transfers/refund/<uuid:attempt_id>/record/", view(self.record_refund_view),
                 name="payments_corporate_refund_record"),
            # The refund admin links its "electronic receipt" field to this name.
            path("refund-receipt/<uuid:attempt_id>/", view(self.receipt_view),
                 name="payments_refundattempt_receipt"),
            *super().get_urls(),
        ]

    def _scoped(self, request, qs):
        brand_ids = scope_brand_ids(request)
        return qs if brand_ids is None else qs.filter(brand_id__in=brand_ids)

    def _require_hq(self, request, brand_id=None):
        if not (self.role_may_view(request) and is_hq(request, brand_id)):
            raise PermissionDenied

    def _context(self, request, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "changelist_url": reverse("admin:payments_corporateaccount_changelist"),
            "transfers_url": reverse("admin:payments_corporate_transfers"),
            **extra,
        }

    def transfers_view(self, request):
        self._require_hq(request)
        payments = (
            self._scoped(request, Payment.objects.filter(channel=CORPORATE, status=PaymentStatus.PENDING))
            .select_related("order__store", "created_by")
            .order_by("pay_before", "created_at")
        )
        refunds = (
            self._scoped(request, RefundAttempt.objects.filter(TRANSFER_REFUNDS))
            .select_related("payment__order__store").defer("receipt_pdf")
        )
        waiting = refunds.filter(status=RefundAttemptStatus.PROCESSING).order_by("created_at")
        recorded = refunds.filter(status=RefundAttemptStatus.SUCCEEDED).order_by("-succeeded_at")[:RECENT_RECEIPTS]
        context = self._context(
            request, title=_("Bank transfers"),
            payments=list(payments), waiting_refunds=list(waiting), recorded_refunds=list(recorded),
        )
        return TemplateResponse(request, "admin/payments/corporate/transfers.html", context)

    def _render_form(self, request, form, *, title, subject, rows, submit_label):
        context = self._context(request, title=title, form=form, subject=subject, rows=rows,
                                submit_label=submit_label)
        return TemplateResponse(request, "admin/payments/corporate/reference_form.html", context)

    def confirm_view(self, request, payment_id):
        payment = (
            self._scoped(request, Payment.objects.filter(channel=CORPORATE))
            .select_related("order__store", "created_by").filter(pk=payment_id).first()
        )
        if payment is None:
            raise Http404
        self._require_hq(request, payment.brand_id)
        form = TransferReferenceForm(request.POST or None)
        if payment.status != PaymentStatus.PENDING:
            form = None
            messages.warning(request, _("This payment is not waiting for a transfer (it is %(status)s).")
                             % {"status": payment.get_status_display()})
        elif request.method == "POST" and form.is_valid():
            try:
                payment = corporate_transfer_confirm(actor=request.user, payment_id=payment.pk,
                                                     reference=form.cleaned_data["reference"], ip=client_ip(request))
            except DomainError as error:
                _form_error(form, error)
            else:
                payment.order.refresh_from_db()
                self.message_user(
                    request,
                    _("Transfer %(reference)s confirmed: %(amount)s CNY for order %(order)s (%(status)s).") % {
                        "reference": payment.provider_trade_no, "amount": payment.amount,
                        "order": payment.order, "status": payment.order.get_status_display()},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:payments_corporate_transfers"))
        account = corporate_account_for_payment(payment)
        rows = [
            (_("Order"), payment.order),
            (_("Amount (CNY)"), payment.amount),
            (_("Company"), account.name if account else "-"),
            (_("Reference the company quotes"), payment.qr_content or "-"),
            (_("Ordered by"), payment.created_by.masked_phone if payment.created_by_id else "-"),
            (_("Transfer due by"), payment.pay_before),
        ]
        return self._render_form(request, form, title=_("Confirm transfer received"), subject=payment,
                                 rows=rows, submit_label=_("Confirm transfer received"))

    def record_refund_view(self, request, attempt_id):
        attempt = (
            self._scoped(request, RefundAttempt.objects.filter(TRANSFER_REFUNDS))
            .select_related("payment__order__store").filter(pk=attempt_id).first()
        )
        if attempt is None:
            raise Http404
        self._require_hq(request, attempt.brand_id)
        form = TransferReferenceForm(request.POST or None)
        if attempt.status != RefundAttemptStatus.PROCESSING:
            form = None
            messages.warning(request, _("This refund is not waiting for a transfer (it is %(status)s).")
                             % {"status": attempt.get_status_display()})
        elif request.method == "POST" and form.is_valid():
            try:
                attempt = refund_transfer_record(
                    actor=request.user, attempt_id=attempt.pk, reference=form.cleaned_data["reference"],
                    ip=client_ip(request),
                )
            except DomainError as error:
                _form_error(form, error)
            else:
                self.message_user(
                    request,
                    _("Refund transfer %(reference)s recorded: %(amount)s CNY; its receipt is kept with the refund.")
                    % {"reference": attempt.transfer_reference, "amount": attempt.amount},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:payments_corporate_transfers"))
        if attempt.destination == RefundDestination.BANK_TRANSFER:
            # The customer's own account: the full number is needed to make the transfer, so HQ
            # sees it here (and only here), and each showing is audited.
            number = refund_bank_account_reveal(actor=request.user, attempt=attempt, ip=client_ip(request))
            payee = (attempt.bank_account_name, attempt.bank_name, number or _("(unreadable: ask the customer again)"))
        else:
            account = corporate_account_for_payment(attempt.payment)
            payee = ((account.name, account.bank_name, mask_account(account.bank_account_last4)) if account
                     else ("-", "-", "-"))
        rows = [
            (_("Refund number"), attempt.out_refund_no),
            (_("Amount (CNY)"), attempt.amount),
            (_("Order"), attempt.payment.order),
            (_("Transfer to"), payee[0]),
            (_("Bank"), payee[1]),
            (_("Account number"), payee[2]),
            (_("Why"), attempt.get_origin_display()),
        ]
        return self._render_form(request, form, title=_("Record refund transfer"), subject=attempt, rows=rows,
                                 submit_label=_("Record refund transfer"))

    def receipt_view(self, request, attempt_id):
        attempt = (
            self._scoped(request, RefundAttempt.objects.filter(TRANSFER_REFUNDS))
            .filter(pk=attempt_id).only("pk", "brand_id", "out_refund_no", "receipt_pdf").first()
        )
        if attempt is None or not attempt.receipt_pdf:
            raise Http404
        self._require_hq(request, attempt.brand_id)
        response = HttpResponse(bytes(attempt.receipt_pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="receipt-{attempt.out_refund_no}.pdf"'
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


class TransferReferenceForm(forms.Form):
    reference = forms.CharField(
        label=_("Bank transfer reference"), max_length=REFERENCE_MAX_LENGTH,
        help_text=_("As the bank statement shows it (流水号)."),
    )


def _form_error(form, error: DomainError) -> None:
    form.add_error("reference" if isinstance(error, TransferReferenceInvalid) else None, str(error.message))


# --- For the payment and refund admins ------------------------------------------------------


def transfer_links(obj) -> str:
    """Links to the bank transfer pages for a corporate payment or refund ("" otherwise), for a
    read-only column of the payment or refund admin."""
    if isinstance(obj, Payment):
        if obj.channel == CORPORATE and obj.status == PaymentStatus.PENDING:
            return format_html('<a href="{}">{}</a>', reverse("admin:payments_corporate_confirm", args=[obj.pk]),
                               _("Confirm transfer received"))
        return ""
    if isinstance(obj, RefundAttempt) and obj.by_bank_transfer:
        links = []
        if obj.status == RefundAttemptStatus.PROCESSING:
            links.append((reverse("admin:payments_corporate_refund_record", args=[obj.pk]),
                          _("Record refund transfer")))
        if obj.transfer_reference and obj.status == RefundAttemptStatus.SUCCEEDED:
            links.append((reverse("admin:payments_refundattempt_receipt", args=[obj.pk]), _("Receipt (PDF)")))
        return format_html_join(" ", '<a href="{}">{}</a>', links)
    return ""


def _has_transfer_permission(modeladmin, request) -> bool:
    """For the actions' ``allowed_permissions``: HQ managers of a brand, and superusers."""
    return is_hq(request)


def _one_selected(modeladmin, request, queryset, *, valid, url_name):
    rows = [obj for obj in queryset[:2] if valid(obj)]
    if len(rows) != 1 or queryset.count() != 1:
        modeladmin.message_user(request, _("Select exactly one row that is waiting for its transfer."),
                                messages.WARNING)
        return None
    return HttpResponseRedirect(reverse(url_name, args=[rows[0].pk]))


@admin.action(description=_("Confirm transfer received"), permissions=["transfer"])
def confirm_transfer_action(modeladmin, request, queryset):
    """For the payment admin: open the confirmation page of the one selected corporate payment."""
    return _one_selected(
        modeladmin, request, queryset, url_name="admin:payments_corporate_confirm",
        valid=lambda p: p.channel == CORPORATE and p.status == PaymentStatus.PENDING,
    )


@admin.action(description=_("Record refund transfer"), permissions=["transfer"])
def record_refund_transfer_action(modeladmin, request, queryset):
    """For the refund admin: open the transfer page of the one selected corporate refund."""
    return _one_selected(
        modeladmin, request, queryset.select_related("payment"), url_name="admin:payments_corporate_refund_record",
        valid=lambda a: a.by_bank_transfer and a.status == RefundAttemptStatus.PROCESSING,
    )


def _attach(model_admin_class, action) -> None:
    """Offer ``action`` in another payments admin (HQ only: ``has_transfer_permission``)."""
    model_admin_class.has_transfer_permission = _has_transfer_permission
    actions = list(model_admin_class.actions or ())
    if action not in actions:
        model_admin_class.actions = [*actions, action]


_attach(PaymentAdmin, confirm_transfer_action)
_attach(RefundAttemptAdmin, record_refund_transfer_action)
