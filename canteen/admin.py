"""Canteens in the admin: organisations, members, and their subsidy ledgers (read-only).

Rows are those of the organisations the user may manage (``canteen.selectors.organisations_for``:
HQ managers their brand's, canteen staff those they are named on, superusers all). What a role
may do is its model permissions (``accounts.roles``): HQ managers set up organisations (stores,
canteen staff, subsidy policy) and members; canteen staff look. Money never moves here: wallet
balances are shown, ledger entries and top-up batches are read-only for everybody (top-ups,
batches and grants go through ``canteen.services``, payments through the meal_subsidy channel).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from accounts.services import customer_create
from accounts.validators import normalize_phone
from config.api import DomainError
from stores.admin.scoping import ScopedAdmin, TenantScopedMixin, scope_brand_ids, user_brand_id
from stores.models import Allergen, Store

from .models import DietaryNeed, Member, Organisation, SubsidyEntry, TopupBatch
from .selectors import organisations_for, wallet_entries
from .services import member_create, member_dietary_update

RECENT_ENTRIES = 20


class OrganisationScopedMixin:
    """Rows of the organisations ``organisations_for(user)`` returns (instead of the brand scoping
    of ``TenantScopedMixin``, whose ``get_queryset`` and ``in_scope`` call this); ``organisation_path``
    is the lookup from a row to its organisation ("" for the organisation itself)."""

    organisation_path = "organisation"
    brand_path = None

    def scope_queryset(self, request, qs):
        if scope_brand_ids(request) is None:
            return qs  # an active superuser sees everything (inactive or frozen ones nothing)
        lookup = f"{self.organisation_path}__in" if self.organisation_path else "pk__in"
        return qs.filter(**{lookup: organisations_for(request.user)})

    def has_module_permission(self, request):
        return super().has_module_permission(request) and scope_brand_ids(request) != set()

    def has_delete_permission(self, request, obj=None):
        return False  # organisations and members are switched off (is_active), never deleted


class ReadOnlyCanteenAdmin(OrganisationScopedMixin, TenantScopedMixin, admin.ModelAdmin):
    """Shown, never added, changed or deleted: the services are the only writers."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return list(admin.utils.flatten_fieldsets(self.get_fieldsets(request, obj)))


def _canteen_staff_of(brand_ids):
    users = User.objects.filter(role=Role.CANTEEN_STAFF, is_staff=True)
    if brand_ids is not None:
        users = users.filter(staff_assignment__brand_id__in=brand_ids)
    return users.order_by("phone")


def _entries_table(entries) -> str:
    if not entries:
        return "-"
    rows = format_html_join(
        "", "<tr><td>{}</td><td>{}</td><td style=\"text-align:right\">{}</td>"
            "<td style=\"text-align:right\">{}</td><td>{}</td></tr>",
        ((f"{e.created_at:%Y-%m-%d %H:%M}", e.get_kind_display(), f"{e.amount:+}", e.balance_after, e.note)
         for e in entries),
    )
    return format_html(
        "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
        "<tbody>{}</tbody></table>",
        _("at"), _("kind"), _("amount"), _("balance after"), _("note"), rows,
    )


# --- organisations ------------------------------------------------------------------


class OrganisationForm(forms.ModelForm):
    class Meta:
        model = Organisation
        fields = ("brand", "code", "name", "kind", "is_active", "monthly_amount", "per_meal_cap", "month_end",
                  "stores", "staff")

    def clean(self):
        cleaned = super().clean()
        brand = cleaned.get("brand")
        brand_id = brand.pk if brand is not None else (self.instance.brand_id or self._brand_id)
        if brand_id is None:
            return cleaned
        stores = cleaned.get("stores")
        if stores is not None and any(store.brand_id != brand_id for store in stores):
            self.add_error("stores", _("Only stores of the organisation's brand can serve it."))
        staff = cleaned.get("staff")
        if staff is not None and _canteen_staff_of({brand_id}).filter(
                pk__in=[u.pk for u in staff]).count() != len(staff):
            self.add_error("staff", _("Only canteen staff of the organisation's brand can manage it."))
        return cleaned

    _brand_id: int | None = None


@admin.register(Organisation)
class OrganisationAdmin(OrganisationScopedMixin, ScopedAdmin):
    organisation_path = ""
    brand_path = "brand"  # read-only for all but superusers, and new ones go into the user's brand
    form = OrganisationForm
    list_display = ("name", "code", "brand", "kind", "monthly_amount", "per_meal_cap", "month_end", "member_count",
                    "is_active")
    list_select_related = ("brand",)
    list_filter = ("kind", "month_end", "is_active")
    search_fields = ("name", "code")
    filter_horizontal = ("stores", "staff")
    fieldsets = (
        (None, {"fields": ("brand", "code", "name", "kind", "is_active")}),
        (_("Subsidy policy"), {"fields": ("monthly_amount", "per_meal_cap", "month_end")}),
        (_("Where and who"), {"fields": ("stores", "staff")}),
        (_("Record"), {"fields": ("created_at",)}),
    )

    def get_readonly_fields(self, request, obj=None):
        fields = ["created_at", *super().get_readonly_fields(request, obj)]
        if obj is not None and obj.pk is not None:
            fields.append("code")  # the campus-card / OA export refers to it
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"_brand_id": user_brand_id(request)})

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "staff":
            kwargs["queryset"] = _canteen_staff_of(scope_brand_ids(request))
            return admin.ModelAdmin.formfield_for_manytomany(self, db_field, request, **kwargs)
        if db_field.name == "stores":
            kwargs["queryset"] = self.scope_choices(request, Store.objects.select_related("brand").order_by("code"))
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description=_("members"))
    def member_count(self, obj):
        return obj.members.filter(is_active=True).count()


# --- members ------------------------------------------------------------------------


class DietaryNeedsField(forms.MultipleChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=DietaryNeed.choices, widget=forms.CheckboxSelectMultiple, required=False,
                         label=_("dietary needs"), **kwargs)


class MemberChangeForm(forms.ModelForm):
    dietary_needs = DietaryNeedsField()

    class Meta:
        model = Member
        fields = ("name", "department", "dietary_needs", "allergies", "is_active")


class MemberAddForm(forms.ModelForm):
    """A new member: an existing account by phone, or a new customer account with that phone."""

    phone = forms.CharField(label=_("mobile phone"), max_length=20,
                            help_text=_("The member's account; a customer account is created if there is none."))
    dietary_needs = DietaryNeedsField()

    class Meta:
        model = Member
        fields = ("organisation", "number", "name", "department", "dietary_needs", "allergies")

    def clean_phone(self):
        phone = normalize_phone(self.cleaned_data["phone"])
        user = User.objects.filter(phone=phone).first()
        if user is not None and Member.objects.filter(user=user).exists():
            raise forms.ValidationError(_("This account is a member of an organisation already."))
        return phone


class MemberOrganisationFilter(admin.SimpleListFilter):
    title = _("organisation")
    parameter_name = "organisation"

    def lookups(self, request, model_admin):
        return [(o.pk, o.name) for o in organisations_for(request.user).order_by("name")]

    def queryset(self, request, queryset):
        return queryset.filter(organisation_id=self.value()) if self.value() else queryset


class DepartmentFilter(admin.SimpleListFilter):
    """The departments of the members the user sees (not of every organisation in the database)."""

    title = _("department")
    parameter_name = "department"

    def lookups(self, request, model_admin):
        departments = (model_admin.get_queryset(request).exclude(department="")
                       .order_by("department").values_list("department", flat=True).distinct())
        return [(d, d) for d in departments]

    def queryset(self, request, queryset):
        return queryset.filter(department=self.value()) if self.value() else queryset


@admin.register(Member)
class MemberAdmin(OrganisationScopedMixin, ScopedAdmin):
    list_display = ("number", "name", "organisation", "department", "phone_masked", "balance", "is_active")
    list_display_links = ("number", "name")
    list_select_related = ("organisation", "user", "wallet")
    list_filter = (MemberOrganisationFilter, DepartmentFilter, "is_active")
    search_fields = ("number", "name")
    search_help_text = _("Member number, name, or the last digits of the phone.")
    ordering = ("organisation", "number")
    list_per_page = 100
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("organisation", "number", "name", "department", "phone_masked", "is_active",
                           "joined_at")}),
        (_("Dietary needs"), {"fields": ("dietary_needs", "allergies")}),
        (_("Meal subsidy"), {"fields": ("balance", "recent_entries", "entries_link")}),
    )
    add_fieldsets = (
        (None, {"fields": ("organisation", "number", "name", "department", "phone")}),
        (_("Dietary needs"), {"fields": ("dietary_needs", "allergies")}),
    )
    readonly_fields = ("organisation", "number", "phone_masked", "joined_at", "balance", "recent_entries",
                       "entries_link")

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        fields = list(self.readonly_fields)
        if not self.has_change_permission(request, obj):
            fields += ["name", "department", "is_active", "dietary_needs", "allergies"]
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = MemberAddForm if obj is None else MemberChangeForm
        readonly = set(self.get_readonly_fields(request, obj))
        kwargs["form"] = form
        kwargs["fields"] = [f for f in dict.fromkeys((*form._meta.fields, *form.declared_fields)) if f not in readonly]
        return admin.ModelAdmin.get_form(self, request, obj, change=change, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "organisation":
            kwargs["queryset"] = organisations_for(request.user).filter(is_active=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "allergies":
            kwargs["queryset"] = Allergen.objects.all()
            kwargs["widget"] = forms.CheckboxSelectMultiple
        return admin.ModelAdmin.formfield_for_manytomany(self, db_field, request, **kwargs)

    def get_search_results(self, request, queryset, search_term):
        """Number or name (contains), or the last digits of the member's phone."""
        term = search_term.strip()[:60]
        if not term:
            return queryset, False
        query = Q(number__icontains=term) | Q(name__icontains=term)
        digits = normalize_phone(term)
        if digits.isascii() and digits.isdigit() and len(digits) >= 4:
            query |= Q(user__phone__endswith=digits)
        return queryset.filter(query), False

    # writes: through the services ----------------------------------------------------

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            # The member's own details (no money); dietary needs and allergies as the member's page does.
            obj.save(update_fields=["name", "department", "is_active"])
            member_dietary_update(member=obj, needs=data.get("dietary_needs") or [],
                                  allergy_ids=[allergen.pk for allergen in data.get("allergies") or []])
            return
        organisation = data["organisation"]
        if not organisations_for(request.user).filter(pk=organisation.pk).exists():
            raise PermissionDenied
        user = User.objects.filter(phone=data["phone"]).first()
        try:
            if user is None:
                user = customer_create(phone=data["phone"], name=data["name"], actor=request.user)
        except DomainError as error:
            raise PermissionDenied(error.message) from error
        member = member_create(organisation=organisation, user=user, number=data["number"], name=data["name"],
                               department=data.get("department", ""), dietary_needs=data.get("dietary_needs") or [],
                               allergies=list(data.get("allergies") or []))
        obj.pk = member.pk
        obj.user = user
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        """The allergies were written by ``member_dietary_update`` or ``member_create``: no ``save_m2m``."""
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # columns -------------------------------------------------------------------------

    @admin.display(description=_("mobile phone"))
    def phone_masked(self, obj):
        return obj.user.masked_phone if obj is not None and obj.user_id else "-"

    @admin.display(description=_("subsidy balance"), ordering="wallet__balance")
    def balance(self, obj):
        wallet = getattr(obj, "wallet", None)
        return wallet.balance if wallet is not None else "-"

    @admin.display(description=_("latest entries"))
    def recent_entries(self, obj):
        return _entries_table(wallet_entries(obj, limit=RECENT_ENTRIES)) if obj and obj.pk else "-"

    @admin.display(description=_("ledger"))
    def entries_link(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        url = reverse("admin:canteen_subsidyentry_changelist") + f"?wallet={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, _("All entries of this member"))


# --- the ledger and the batches: read-only -----------------------------------------


@admin.register(SubsidyEntry)
class SubsidyEntryAdmin(ReadOnlyCanteenAdmin):
    """The append-only subsidy ledger, as evidence: never added, changed or deleted here."""

    list_display = ("created_at", "member_display", "organisation", "kind", "amount", "balance_after", "month",
                    "actor_display", "note")
    list_select_related = ("wallet__member", "organisation", "actor")
    list_filter = ("kind", ("organisation", admin.RelatedOnlyFieldListFilter), "month")
    search_fields = ("wallet__member__number", "wallet__member__name", "note")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    list_per_page = 100
    show_full_result_count = False
    fields = ("wallet", "organisation", "kind", "amount", "balance_after", "month", "payment", "refund_attempt",
              "batch", "batch_line", "idempotency_key", "note", "actor_display", "created_at")

    def lookup_allowed(self, lookup, value, request=None):
        return lookup in ("wallet", "wallet__exact") or super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("member"), ordering="wallet__member__number")
    def member_display(self, obj):
        return obj.wallet.member

    @admin.display(description=_("by"))
    def actor_display(self, obj):
        return obj.actor.masked_phone if obj.actor_id else _("system")


@admin.register(TopupBatch)
class TopupBatchAdmin(ReadOnlyCanteenAdmin):
    """Uploaded top-up files and what their check found; applied through the canteen staff pages."""

    list_display = ("created_at", "file_name", "organisation", "status", "line_count", "total", "error_count",
                    "uploaded_by_display", "applied_at")
    list_select_related = ("organisation", "uploaded_by")
    list_filter = ("status", ("organisation", admin.RelatedOnlyFieldListFilter))
    search_fields = ("file_name", "sha256")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    list_per_page = 100
    fields = ("organisation", "file_name", "sha256", "status", "line_count", "total", "error_count",
              "uploaded_by_display", "created_at", "applied_by_display", "applied_at", "rows_table")

    @admin.display(description=_("uploaded by"))
    def uploaded_by_display(self, obj):
        return obj.uploaded_by.masked_phone if obj.uploaded_by_id else "-"

    @admin.display(description=_("applied by"))
    def applied_by_display(self, obj):
        return obj.applied_by.masked_phone if obj.applied_by_id else "-"

    @admin.display(description=_("lines"))
    def rows_table(self, obj):
        if not obj.rows:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td style=\"text-align:right\">{}</td><td>{}</td><td>{}</td></tr>",
            ((row.get("line"), row.get("number"), row.get("name"), row.get("amount"), row.get("note"),
              row.get("error")) for row in obj.rows),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            _("line"), _("member number"), _("name"), _("amount"), _("note"), _("error"), rows,
        )
