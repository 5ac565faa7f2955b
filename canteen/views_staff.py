"""Canteen staff pages: the organisations one manages, members and their ledgers, single top-ups,
CSV top-up batches (preview, apply, receipt) and the monthly settlement export per department.

Thin views: check access, validate a form, make one service call, redirect with a message (or
render the form again with its error and a 4xx status). Nothing is applied on a refused input.

Who may use them: canteen staff (the organisations they are named on), HQ managers (every
organisation of their brand) and superusers. Anonymous users go to the staff login; anybody else
(customers, store and kitchen staff, frozen or inactive users) gets a 403 page; an organisation,
member or batch the user does not manage answers like an unknown one (404).

The reads (batches of an organisation, the settlement figures, access) are ``canteen.selectors``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Role
from accounts.validators import mask_phone
from config.api import DomainError
from config.net import client_ip
from reports.views import csv_response, form_errors_response

from . import selectors, services
from .errors import CanteenNotFound
from .forms import BatchUploadForm, MemberSearchForm, SettlementForm, TopupForm, previous_month
from .models import Member, Organisation, SubsidyEntry, TopupBatch

STAFF_LOGIN_URL = "admin:login"
CANTEEN_ROLES = frozenset({Role.HQ_MANAGER, Role.CANTEEN_STAFF})
TOKENS_KEY = "canteen.topup_tokens"  # member id -> the token of the top-up form last shown
DONE_KEY = "canteen.topup_done"  # token -> member id, so a resubmitted form finds its top-up
DONE_KEEP = 30
KEY_PREFIX = "page:"  # page tokens never meet an API client's Idempotency-Key
SEARCH_LIMIT = 50
LEDGER_LIMIT = 50
BATCHES_LIMIT = 20
ZERO = Decimal("0.00")


# --- Access ---


def _denied(request):
    return render(request, "canteen/staff/denied.html", status=403)


def staff_page(view):
    """Login / 403 / 404, then ``view(request, organisation, ...)`` when the URL names one."""

    @wraps(view)
    def wrapper(request, *args, org_id: int | None = None, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse(STAFF_LOGIN_URL))
        if not selectors.may_manage_canteens(user):
            return _denied(request)
        if org_id is None:
            return view(request, *args, **kwargs)
        try:
            organisation = selectors.organisation_get_for_staff(user=user, organisation_id=org_id)
        except CanteenNotFound:
            raise Http404(_("No such organisation.")) from None
        return view(request, organisation, *args, **kwargs)

    return wrapper


def _member_or_404(user, organisation: Organisation, member_id) -> Member:
    try:
        member = selectors.member_get_for_staff(user=user, member_id=member_id)
    except CanteenNotFound as exc:
        raise Http404(exc.message) from None
    if member.organisation_id != organisation.pk:
        raise Http404(_("No such member."))
    return member


def _batch_or_404(organisation: Organisation, batch_id) -> TopupBatch:
    batch = selectors.batch_get(organisation=organisation, batch_id=batch_id)
    if batch is None:
        raise Http404(_("No such batch."))
    return batch


def _context(organisation: Organisation | None, section: str, **extra) -> dict:
    return {"organisation": organisation, "section": section, **extra}


# --- Organisations and members ---


@never_cache
@require_GET
@staff_page
def staff_home(request):
    organisations = list(selectors.organisations_for(request.user).select_related("brand").order_by("name", "pk"))
    if len(organisations) == 1:
        return redirect("canteen:staff-organisation", org_id=organisations[0].pk)
    return render(request, "canteen/staff/home.html", _context(None, "home", organisations=organisations))


@dataclass(frozen=True)
class MemberRow:
    member: Member
    phone: str
    balance: Decimal


@never_cache
@require_GET
@staff_page
def organisation_detail(request, organisation: Organisation):
    form = MemberSearchForm(request.GET or None)
    query = form.cleaned_data["q"] if form.is_valid() else ""
    members = selectors.member_search(organisation=organisation, query=query, limit=SEARCH_LIMIT)
    rows = [MemberRow(member=m, phone=mask_phone(m.user.phone), balance=_wallet_balance(m)) for m in members]
    return render(request, "canteen/staff/organisation.html", _context(
        organisation, "members", form=form, query=query, rows=rows, limit=SEARCH_LIMIT,
    ), status=200 if form.is_valid() or not form.is_bound else 400)


def _wallet_balance(member: Member) -> Decimal:
    wallet = getattr(member, "wallet", None)
    return wallet.balance if wallet is not None else ZERO


def _topup_token(session, member_id: int, *, renew: bool = False) -> str:
    tokens = dict(session.get(TOKENS_KEY, {}))
    token = tokens.get(str(member_id))
    if renew or not token:
        token = tokens[str(member_id)] = secrets.token_urlsafe(24)
        session[TOKENS_KEY] = tokens
    return token


def _token_known(session, member_id: int, token: str) -> bool:
    """The token of this member's form as last shown, or one that made a top-up already (a resubmit)."""
    if not token:
        return False
    current = session.get(TOKENS_KEY, {}).get(str(member_id))
    if current is not None and secrets.compare_digest(current, token):
        return True
    return session.get(DONE_KEY, {}).get(token) == member_id


def _remember_done(session, member_id: int, token: str) -> None:
    done = dict(session.get(DONE_KEY, {}))
    done[token] = member_id
    session[DONE_KEY] = dict(list(done.items())[-DONE_KEEP:])
    tokens = dict(session.get(TOKENS_KEY, {}))
    tokens.pop(str(member_id), None)
    session[TOKENS_KEY] = tokens


@never_cache
@require_http_methods(["GET", "POST"])
@staff_page
def member_detail(request, organisation: Organisation, member_id: int):
    member = _member_or_404(request.user, organisation, member_id)
    form = TopupForm(request.POST) if request.method == "POST" else TopupForm()
    status, renew = 200, False
    if request.method == "POST":
        status = 400
        if form.is_valid():
            token = form.cleaned_data["token"]
            if not _token_known(request.session, member.pk, token):
                form.add_error(None, _("This form had expired. Check the amount and submit it again."))
                renew = True
            else:
                try:
                    entry, created = services.subsidy_topup(
                        actor=request.user, member_id=member.pk, amount=form.cleaned_data["amount"],
                        note=form.cleaned_data["note"], idempotency_key=KEY_PREFIX + token, ip=client_ip(request),
                    )
                except DomainError as exc:
                    field = "amount" if exc.code == "invalid_amount" else "note" if exc.code == "invalid_note" else None
                    form.add_error(field, str(exc.message))
                    if exc.status_code == 409:
                        status = 409
                else:
                    _remember_done(request.session, member.pk, token)
                    _topup_message(request, member, entry, created=created)
                    return redirect("canteen:staff-member", org_id=organisation.pk, member_id=member.pk)
    token = _topup_token(request.session, member.pk, renew=renew)
    if form.is_bound:
        form.data = form.data.copy()
        form.data["token"] = token
    else:
        form.initial["token"] = token
    member.wallet.refresh_from_db()
    return render(request, "canteen/staff/member.html", _context(
        organisation, "members", member=member, phone=mask_phone(member.user.phone), balance=member.wallet.balance,
        entries=selectors.wallet_entries(member, limit=LEDGER_LIMIT), ledger_limit=LEDGER_LIMIT, form=form,
    ), status=status)


def _topup_message(request, member: Member, entry: SubsidyEntry, *, created: bool) -> None:
    if created:
        messages.success(request, _("Topped up %(amount)s CNY for %(name)s. New balance: %(balance)s CNY.")
                         % {"amount": entry.amount, "name": member.name, "balance": entry.balance_after})
    else:
        member.wallet.refresh_from_db()
        messages.info(request, _("This top-up was recorded already (%(amount)s CNY for %(name)s); nothing was "
                                 "added again. Balance: %(balance)s CNY.")
                      % {"amount": entry.amount, "name": member.name, "balance": member.wallet.balance})


# --- CSV batches ---


@never_cache
@require_http_methods(["GET", "POST"])
@staff_page
def batch_list(request, organisation: Organisation):
    form = BatchUploadForm(request.POST, request.FILES) if request.method == "POST" else BatchUploadForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                name, content = services.batch_read(form.cleaned_data["file"])
                batch = services.batch_preview(actor=request.user, organisation_id=organisation.pk, file_name=name,
                                               content=content)
            except DomainError as exc:
                form.add_error("file", str(exc.message))
            else:
                return redirect("canteen:staff-batch", org_id=organisation.pk, batch_id=batch.pk)
    return render(request, "canteen/staff/batches.html", _context(
        organisation, "batches", form=form,
        batches=selectors.batches_recent(organisation=organisation, limit=BATCHES_LIMIT),
        max_mb=services.BATCH_MAX_BYTES // 2**20, max_lines=services.BATCH_MAX_LINES,
    ), status=status)


@dataclass(frozen=True)
class ReceiptLine:
    line: int
    number: str
    name: str
    amount: Decimal
    note: str
    entry: SubsidyEntry | None


@never_cache
@require_GET
@staff_page
def batch_detail(request, organisation: Organisation, batch_id: int):
    """The preview of a checked batch (every row with its error), or the receipt once applied."""
    batch = _batch_or_404(organisation, batch_id)
    if batch.status == TopupBatch.Status.APPLIED:
        entries = selectors.batch_entries(batch)
        lines = [ReceiptLine(line=row["line"], number=row["number"], name=row["name"], amount=Decimal(row["amount"]),
                             note=row["note"], entry=entries.get(row["line"])) for row in batch.rows]
        return render(request, "canteen/staff/batch_receipt.html", _context(
            organisation, "batches", batch=batch, lines=lines))
    twin = selectors.batch_applied_twin(batch)
    good = batch.line_count - batch.error_count
    return render(request, "canteen/staff/batch_preview.html", _context(
        organisation, "batches", batch=batch, rows=batch.rows, twin=twin, good_lines=good,
        can_apply=batch.error_count == 0 and twin is None,
    ))


@require_POST
@staff_page
def batch_apply(request, organisation: Organisation, batch_id: int):
    batch = _batch_or_404(organisation, batch_id)
    try:
        batch, applied_now = services.batch_apply(actor=request.user, batch_id=batch.pk, ip=client_ip(request))
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        if applied_now:
            messages.success(request, _("Batch %(id)d applied: %(n)d top-ups, %(total)s CNY in all.")
                             % {"id": batch.pk, "n": batch.line_count, "total": batch.total})
        else:
            messages.info(request, _("Batch %(id)d was applied already on %(at)s; nothing was credited again.")
                          % {"id": batch.pk, "at": _local(batch.applied_at)})
    return redirect("canteen:staff-batch", org_id=organisation.pk, batch_id=batch.pk)


def _local(at: datetime | None) -> str:
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else ""


# --- Settlement ---


@never_cache
@require_GET
@staff_page
def settlement(request, organisation: Organisation):
    form = SettlementForm(request.GET if "month" in request.GET else None,
                          initial={"month": f"{previous_month():%Y-%m}"})
    rows, totals, month, status = [], None, None, 200
    if not form.is_bound:
        month = previous_month()
    elif form.is_valid():
        month = form.cleaned_data["month"]
    else:
        status = 400
    if month is not None:
        rows = selectors.settlement_rows(organisation=organisation, month=month)
        totals = selectors.settlement_totals(rows)
    return render(request, "canteen/staff/settlement.html", _context(
        organisation, "settlement", form=form, month=month, rows=rows, totals=totals,
        months=_recent_months(12),
    ), status=status)


@require_GET
@staff_page
def settlement_csv(request, organisation: Organisation):
    form = SettlementForm(request.GET)
    if not form.is_valid():
        return form_errors_response(form)
    month = form.cleaned_data["month"]
    rows = selectors.settlement_rows(organisation=organisation, month=month)
    header = [_("Department"), _("Members"), _("Granted"), _("Topped up"), _("Used"), _("Expired"),
              _("Personal spend")]
    body = ([row.label, row.members, row.granted, row.topped_up, row.used, row.expired, row.personal]
            for row in rows)
    return csv_response(f"settlement-{organisation.code}-{month:%Y-%m}.csv", [header, *body])


def _recent_months(n: int) -> list[date]:
    months, month = [], timezone.localdate().replace(day=1)
    for _i in range(n):
        months.append(month)
        month = previous_month(month)
    return months
