"""Every write to canteens: top-ups (one, or a CSV batch previewed then applied all or nothing),
monthly grants and month-end expiry, a member's dietary needs. Meal payments and their refunds
are the ``meal_subsidy`` gateway's (``canteen.gateway``), through the payments services.

Lock order (continuing ``payments.services``): the batch row, then wallet rows in member id
order, then the audit chain, always the last write. Each top-up, grant and expiry is one ledger
entry that the database allows only once: per idempotency key, per batch line, per member and
month.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record, audit_record_many
from config.money import money
from stores.models import Allergen

from .errors import CanteenConflict, CanteenInvalid, CanteenNotFound
from .ledger import wallet_append, wallet_lock
from .models import DietaryNeed, EntryKind, Member, MonthEnd, Organisation, SubsidyEntry, SubsidyWallet, TopupBatch
from .selectors import member_get_for_staff, organisation_get_for_staff

TOPUP_MAX = Decimal("5000.00")  # one top-up; more is a typo (a misplaced decimal point)
NOTE_MAX = 200
IDEMPOTENCY_KEY_MAX = 100
BATCH_MAX_BYTES = 2 * 1024 * 1024  # a batch of a few thousand lines is far below this
BATCH_MAX_LINES = 5000
NUMBER_HEADERS = {"number", "member", "member_number", "工号", "学号", "编号"}
AMOUNT_HEADERS = {"amount", "金额"}
NOTE_HEADERS = {"note", "备注"}


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def clean_amount(raw) -> Decimal:
    """An amount of money typed by staff: more than 0, at most ``TOPUP_MAX``, at most 2 decimals."""
    text = str(raw if raw is not None else "").strip().replace(",", "").replace("¥", "").replace("￥", "")
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise CanteenInvalid(_("The amount must be a number such as 50 or 12.50."), code="invalid_amount") from None
    if not value.is_finite() or value <= 0:
        raise CanteenInvalid(_("The amount must be more than 0."), code="invalid_amount")
    if value > TOPUP_MAX:
        raise CanteenInvalid(_("At most %(max)s CNY per top-up.") % {"max": TOPUP_MAX}, code="invalid_amount")
    if value != value.quantize(Decimal("0.01")):
        raise CanteenInvalid(_("Amounts have at most 2 decimals."), code="invalid_amount")
    return money(value)


def _clean_note(note) -> str:
    note = str(note or "").strip()
    if "\x00" in note:
        raise CanteenInvalid(_("The note contains characters that are not allowed."), code="invalid_note")
    if len(note) > NOTE_MAX:
        raise CanteenInvalid(_("A note is at most %(n)d characters.") % {"n": NOTE_MAX}, code="invalid_note")
    return note


def _event(action, *, member: Member, actor, amount=None, ip=None, reason="", data=None) -> dict:
    return {"action": action, "actor": _user(actor), "obj": member, "brand_id": member.organisation.brand_id,
            "amount": amount, "ip": ip, "reason": reason,
            "data": {"member": member.number, "organisation": member.organisation.code, **(data or {})}}


# --- members --------------------------------------------------------------------------------


def member_create(*, organisation: Organisation, user, number: str, name: str, department: str = "",
                  dietary_needs=(), allergies=()) -> Member:
    """A new member with an empty wallet (admin, seed_demo)."""
    with transaction.atomic():
        member = Member.objects.create(organisation=organisation, user=user, number=number, name=name,
                                       department=department, dietary_needs=sorted(set(dietary_needs)))
        if allergies:
            member.allergies.set(allergies)
        SubsidyWallet.objects.create(member=member, organisation=organisation)
    return member


def member_dietary_update(*, member: Member, needs, allergy_ids) -> Member:
    """The member records what they eat: needs from ``DietaryNeed``, allergies from the allergens."""
    needs = sorted({str(n) for n in needs or []})
    if any(n not in DietaryNeed.values for n in needs):
        raise CanteenInvalid(_("Unknown dietary need."), code="invalid_need")
    allergy_ids = {str(a).strip() for a in allergy_ids or [] if str(a).strip()}  # an allergen's key is its code
    allergens = list(Allergen.objects.filter(pk__in=allergy_ids))
    if len(allergens) != len(allergy_ids):
        raise CanteenInvalid(_("Unknown allergen."), code="invalid_allergen")
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member.pk)
        member.dietary_needs = needs
        member.save(update_fields=["dietary_needs"])
        member.allergies.set(allergens)
    return member


# --- top-ups --------------------------------------------------------------------------------


def subsidy_topup(*, actor, member_id, amount, note: str = "", idempotency_key: str = "",
                  ip: str | None = None, now=None) -> tuple[SubsidyEntry, bool]:
    """Top up one member of an organisation the actor manages. Returns (entry, created).

    With an ``idempotency_key`` (the page's one-time form token, the API's header) the same key
    returns the entry it made, and the same key for another member or amount is a conflict.
    """
    now = now or timezone.now()
    amount = clean_amount(amount)
    note = _clean_note(note)
    key = str(idempotency_key or "").strip()[:IDEMPOTENCY_KEY_MAX]
    member = member_get_for_staff(user=actor, member_id=member_id)
    if not member.is_active:
        raise CanteenConflict(_("%(name)s is no longer an active member.") % {"name": member.name},
                              code="member_inactive")
    if key:
        existing = SubsidyEntry.objects.filter(organisation_id=member.organisation_id, idempotency_key=key).first()
        if existing is not None:
            return _replayed(existing, member=member, amount=amount, note=note), False
    try:
        with transaction.atomic():
            wallet = wallet_lock(member_id=member.pk)
            entry = wallet_append(wallet=wallet, kind=EntryKind.TOPUP, amount=amount, actor=actor, now=now,
                                  note=note, idempotency_key=key)
            audit_record(**_event("subsidy.topped_up", member=member, actor=actor, amount=amount, ip=ip,
                                  reason=note, data={"balance_after": str(entry.balance_after)}))
    except IntegrityError:
        # The same key, at the same instant, from a double click or a retried request.
        existing = SubsidyEntry.objects.filter(organisation_id=member.organisation_id, idempotency_key=key).first()
        if not key or existing is None:
            raise
        return _replayed(existing, member=member, amount=amount, note=note), False
    return entry, True


def _replayed(entry: SubsidyEntry, *, member: Member, amount: Decimal, note: str) -> SubsidyEntry:
    if (entry.wallet_id != member.pk or entry.amount != amount or entry.kind != EntryKind.TOPUP
            or entry.note != note):
        raise CanteenConflict(_("This request key was already used for another top-up."),
                              code="idempotency_conflict")
    return entry


# --- batches --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchRow:
    line: int
    number: str
    amount: str
    note: str
    member_id: int | None
    name: str
    error: str


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK by default
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise CanteenInvalid(_("The file is not text in UTF-8 or GBK: save it as CSV."), code="invalid_file")


def _header_index(header: list[str]) -> tuple[int, int, int | None]:
    names = [h.strip().lower() for h in header]
    number = next((i for i, h in enumerate(names) if h in NUMBER_HEADERS), None)
    amount = next((i for i, h in enumerate(names) if h in AMOUNT_HEADERS), None)
    note = next((i for i, h in enumerate(names) if h in NOTE_HEADERS), None)
    if number is None or amount is None:
        raise CanteenInvalid(_("The first line must name the columns: number, amount and (optional) note."),
                             code="invalid_columns")
    return number, amount, note


def batch_read(upload) -> tuple[str, bytes]:
    """The name and content of an uploaded file, refused beyond ``BATCH_MAX_BYTES`` unread."""
    name = str(getattr(upload, "name", "") or "upload.csv")[:200]
    size = getattr(upload, "size", None)
    if size is not None and size > BATCH_MAX_BYTES:
        raise CanteenInvalid(_("The file is too large: at most %(mb)d MB.") % {"mb": BATCH_MAX_BYTES // 2**20},
                             code="file_too_large")
    content = upload.read(BATCH_MAX_BYTES + 1)
    if len(content) > BATCH_MAX_BYTES:
        raise CanteenInvalid(_("The file is too large: at most %(mb)d MB.") % {"mb": BATCH_MAX_BYTES // 2**20},
                             code="file_too_large")
    return name, content


def batch_preview(*, actor, organisation_id, file_name: str, content: bytes, now=None) -> TopupBatch:
    """Check every line of a top-up CSV (``number,amount[,note]``) and keep the result to apply.

    A line is wrong when its member is unknown or inactive, its amount is not a valid top-up, or
    it names a member already named above (a duplicate line). Nothing moves money here; the
    preview is recorded so that exactly what was checked is what gets applied.
    """
    organisation = organisation_get_for_staff(user=actor, organisation_id=organisation_id)
    if not content or not content.strip():
        raise CanteenInvalid(_("The file is empty."), code="empty_file")
    if len(content) > BATCH_MAX_BYTES:
        raise CanteenInvalid(_("The file is too large: at most %(mb)d MB.") % {"mb": BATCH_MAX_BYTES // 2**20},
                             code="file_too_large")
    text = _decode(content)
    if "\x00" in text:
        raise CanteenInvalid(_("The file is not text in UTF-8 or GBK: save it as CSV."), code="invalid_file")
    try:
        lines = list(csv.reader(io.StringIO(text)))
    except csv.Error:
        raise CanteenInvalid(_("The file is not a readable CSV."), code="invalid_file") from None
    lines = [row for row in lines if any(cell.strip() for cell in row)]
    if not lines:
        raise CanteenInvalid(_("The file is empty."), code="empty_file")
    number_at, amount_at, note_at = _header_index(lines[0])
    body = lines[1:]
    if not body:
        raise CanteenInvalid(_("The file has a header but no lines."), code="empty_file")
    if len(body) > BATCH_MAX_LINES:
        raise CanteenInvalid(_("At most %(n)d lines per batch.") % {"n": BATCH_MAX_LINES}, code="too_many_lines")
    members = {m.number: m for m in Member.objects.filter(
        organisation=organisation, number__in=[row[number_at].strip() for row in body if len(row) > number_at])}
    seen: dict[str, int] = {}
    rows: list[dict] = []
    total = Decimal("0.00")
    for i, row in enumerate(body, start=2):
        cell = (lambda at, row=row: row[at].strip() if at is not None and at < len(row) else "")  # noqa: E731
        number, raw_amount, note = cell(number_at)[:32], cell(amount_at)[:20], cell(note_at)[:NOTE_MAX]
        member = members.get(number)
        error = ""
        try:
            amount = clean_amount(raw_amount)
        except CanteenInvalid as exc:
            amount, error = None, str(exc.message)
        if not number:
            error = _("No member number.")
        elif member is None:
            error = _("No member with this number in %(org)s.") % {"org": organisation.name}
        elif not member.is_active:
            error = _("%(name)s is no longer an active member.") % {"name": member.name}
        elif number in seen:
            error = _("Duplicate line: this member is on line %(line)d already.") % {"line": seen[number]}
        seen.setdefault(number, i)
        if not error and amount is not None:
            total += amount
        rows.append({"line": i, "number": number, "amount": str(amount) if amount is not None else raw_amount,
                     "note": note, "member_id": member.pk if member else None,
                     "name": member.name if member else "", "error": error})
    errors = sum(1 for row in rows if row["error"])
    return TopupBatch.objects.create(
        organisation=organisation, file_name=file_name, sha256=hashlib.sha256(content).hexdigest(), rows=rows,
        line_count=len(rows), total=money(total), error_count=errors, uploaded_by=actor,
        created_at=now or timezone.now(),
    )


def batch_rows(batch: TopupBatch) -> list[BatchRow]:
    return [BatchRow(**row) for row in batch.rows]


def batch_apply(*, actor, batch_id, ip: str | None = None, now=None) -> tuple[TopupBatch, bool]:
    """Apply a checked batch: every line or none. Returns (batch, applied now).

    A batch with a wrong line is refused whole. Applying it again, or another upload of the same
    file, credits nothing (the batch is applied already; the database allows one applied batch
    per file content and one entry per batch line). Members are re-checked under their locks.
    """
    now = now or timezone.now()
    try:
        return _batch_apply_locked(actor=actor, batch_id=batch_id, ip=ip, now=now)
    except IntegrityError:
        # The database's one applied batch per file content: a twin got there first (the
        # organisation's row lock orders them, so this is a last line of defence). Nothing moved.
        raise CanteenConflict(_("This file was applied already; nothing was applied again."),
                              code="batch_applied_already") from None


def _batch_apply_locked(*, actor, batch_id, ip, now) -> tuple[TopupBatch, bool]:
    with transaction.atomic():
        try:
            batch = TopupBatch.objects.select_for_update().select_related("organisation").get(
                pk=batch_id, organisation__in=organisation_ids_for(actor))
        except (TopupBatch.DoesNotExist, ValueError, TypeError):
            raise CanteenNotFound(_("No such batch.")) from None
        if batch.status == TopupBatch.Status.APPLIED:
            return batch, False
        # Two uploads of the same file applied at once: the organisation's row orders them.
        Organisation.objects.select_for_update().filter(pk=batch.organisation_id).first()
        if batch.error_count:
            raise CanteenConflict(
                _("%(n)d line(s) of this batch are wrong: correct the file and upload it again. Nothing was applied.")
                % {"n": batch.error_count}, code="batch_has_errors")
        twin = TopupBatch.objects.filter(organisation=batch.organisation, sha256=batch.sha256,
                                         status=TopupBatch.Status.APPLIED).first()
        if twin is not None:
            raise CanteenConflict(
                _("This file was applied already (batch %(id)d on %(date)s); nothing was applied again.")
                % {"id": twin.pk, "date": timezone.localtime(twin.applied_at).strftime("%Y-%m-%d %H:%M")},
                code="batch_applied_already")
        rows = sorted(batch.rows, key=lambda row: row["member_id"])  # lock order: member id
        events = []
        for row in rows:
            wallet = wallet_lock(member_id=row["member_id"])
            if not wallet.member.is_active:
                raise CanteenConflict(_("%(name)s is no longer an active member; nothing was applied.")
                                      % {"name": wallet.member.name}, code="member_inactive")
            amount = Decimal(row["amount"])
            wallet_append(wallet=wallet, kind=EntryKind.TOPUP, amount=amount, actor=actor, now=now, batch=batch,
                          batch_line=row["line"], note=row["note"])
            events.append(_event("subsidy.topped_up", member=wallet.member, actor=actor, amount=amount, ip=ip,
                                 reason=row["note"], data={"batch": batch.pk, "line": row["line"]}))
        batch.status = TopupBatch.Status.APPLIED
        batch.applied_by = _user(actor)
        batch.applied_at = now
        batch.save(update_fields=["status", "applied_by", "applied_at"])
        audit_record(action="subsidy.batch_applied", actor=_user(actor), obj=batch, ip=ip,
                     brand_id=batch.organisation.brand_id, amount=batch.total,
                     data={"lines": batch.line_count, "file": batch.file_name, "sha256": batch.sha256})
        audit_record_many(events)
    return batch, True


def organisation_ids_for(actor):
    from .selectors import organisations_for

    return organisations_for(actor).values_list("pk", flat=True)


# --- monthly grants -------------------------------------------------------------------------


def month_of(day: date) -> date:
    return day.replace(day=1)


def monthly_grants_run(*, month: date | None = None, now=None) -> dict[str, int]:
    """Grant every active member of every active organisation its monthly subsidy, once per
    member and month whatever happens (run twice, after a crash, concurrently: the ledger's
    unique entry per member and month decides). Before the grant, an organisation whose
    subsidy expires at month end takes back what was left (one expiry entry per member and
    month); one that carries over leaves it. Returns counts of grants and expiries made now."""
    now = now or timezone.now()
    month = month_of(month or timezone.localdate(now))
    made = {"granted": 0, "expired": 0}
    granted = SubsidyEntry.objects.filter(wallet_id=OuterRef("pk"), kind=EntryKind.GRANT, month=month)
    # Members granted this month already are not locked again (the task runs hourly).
    members = (Member.objects.filter(is_active=True, organisation__is_active=True, organisation__monthly_amount__gt=0)
               .exclude(Exists(granted)).select_related("organisation").order_by("pk"))
    for member in members.iterator(chunk_size=500):
        organisation = member.organisation
        with transaction.atomic():
            wallet = wallet_lock(member_id=member.pk)
            done = set(SubsidyEntry.objects.filter(wallet=wallet, month=month).values_list("kind", flat=True))
            events = []
            if (organisation.month_end == MonthEnd.EXPIRE and EntryKind.EXPIRY not in done
                    and EntryKind.GRANT not in done and wallet.balance > 0
                    and SubsidyEntry.objects.filter(wallet=wallet, kind=EntryKind.GRANT, month__lt=month).exists()):
                left = wallet.balance
                previous = (month - timedelta(days=1)).replace(day=1)
                wallet_append(wallet=wallet, kind=EntryKind.EXPIRY, amount=-left, now=now, month=month,
                              note=_("Left at the end of %(month)s") % {"month": f"{previous:%Y-%m}"})
                events.append(_event("subsidy.expired", member=member, actor=None, amount=left,
                                     data={"month": f"{month:%Y-%m}"}))
                made["expired"] += 1
            if EntryKind.GRANT not in done and organisation.monthly_amount > 0:
                wallet_append(wallet=wallet, kind=EntryKind.GRANT, amount=organisation.monthly_amount, now=now,
                              month=month, note=f"{month:%Y-%m}")
                events.append(_event("subsidy.granted", member=member, actor=None,
                                     amount=organisation.monthly_amount, data={"month": f"{month:%Y-%m}"}))
                made["granted"] += 1
            audit_record_many(events)
    return made
