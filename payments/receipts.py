"""The electronic receipt (PDF) of a refund made by bank transfer to a corporate account.

Drawn with reportlab alone: Chinese text in the built-in CID font ``STSong-Light`` (no font file
is embedded or needed), figures and references in Helvetica, so that an uncompressed receipt
carries them as plain text (searchable, and checked by the tests). The labels are in the site's
language (Chinese), whatever the language of the staff member who recorded the transfer: the
receipt is a document kept with the refund, the same for everybody who opens it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from config.money import money

RECEIPT_TIMEZONE = ZoneInfo("Asia/Shanghai")
CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"

_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
_GROUP_UNITS = ("", "万", "亿", "万亿")


def _register_fonts() -> None:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _group_in_words(group: int) -> str:
    """0 < group < 10000, written with its inner zeros (1005 -> 壹仟零伍)."""
    out, zero = [], False
    for position, char in zip(range(3, -1, -1), f"{group:04d}", strict=True):
        digit = int(char)
        if digit == 0:
            zero = bool(out)
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(_DIGITS[digit] + _SMALL_UNITS[position])
    return "".join(out)


def amount_in_words(amount: Decimal) -> str:
    """An amount in CNY in financial capitals (人民币大写), as banks write it:
    ``Decimal("1005.20")`` -> 壹仟零伍元贰角整, ``Decimal("100000.05")`` -> 壹拾万元零伍分."""
    amount = money(amount)
    if amount < 0 or amount >= Decimal("10") ** 16:
        raise ValueError(f"Out of range: {amount}")
    yuan, cents = divmod(int(amount * 100), 100)
    jiao, fen = divmod(cents, 10)
    if yuan == 0 and cents == 0:
        return "零元整"
    words = []
    if yuan:
        groups = []
        while yuan:
            yuan, group = divmod(yuan, 10000)
            groups.append(group)
        zero = False
        for index in range(len(groups) - 1, -1, -1):
            group = groups[index]
            if group == 0:
                zero = bool(words)
                continue
            if words and (zero or group < 1000):
                words.append("零")
            zero = False
            words.append(_group_in_words(group) + _GROUP_UNITS[index])
        words.append("元")
    if jiao:
        words.append(_DIGITS[jiao] + "角")
    elif words and fen:
        words.append("零")
    words.append(_DIGITS[fen] + "分" if fen else "整")
    return "".join(words)


def mask_account(last4: str) -> str:
    return f"****{last4[-4:]}" if last4 else "-"


@dataclass(frozen=True)
class RefundReceipt:
    """Everything the receipt shows, gathered by the service that records the transfer."""

    number: str
    issued_at: datetime
    brand_name: str
    payer_name: str  # our account the money left from
    payer_bank: str
    payer_account: str
    payee_name: str  # the company
    payee_bank: str
    payee_account: str  # masked: ****1234
    amount: Decimal
    out_refund_no: str
    payment_reference: str  # what the company quoted when it paid (CP...)
    payment_transfer_reference: str  # the bank reference of the company's transfer
    order_number: str
    transfer_reference: str  # the bank reference of our refund transfer
    operator: str


MIN_FONT_SIZE = 6


def _draw_text(pdf: canvas.Canvas, x: float, y: float, text: str, *, size: float = 10, bold: bool = False,
               max_width: float | None = None) -> None:
    """ASCII in Helvetica (kept as plain text in the PDF), anything else in the CID font. Text
    wider than ``max_width`` is set smaller, down to 6 pt, then cut with an ellipsis."""
    text = str(text)
    font = (LATIN_BOLD if bold else LATIN_FONT) if text.isascii() else CJK_FONT
    if max_width is not None:
        while size > MIN_FONT_SIZE and pdfmetrics.stringWidth(text, font, size) > max_width:
            size -= 0.5
        while len(text) > 1 and pdfmetrics.stringWidth(text, font, size) > max_width:
            text = text[:-2] + "…"
            font = font if text.isascii() else CJK_FONT
    pdf.setFont(font, size)
    pdf.drawString(x, y, text)


def refund_receipt_pdf(receipt: RefundReceipt, *, compress: bool = False) -> bytes:
    """The receipt as a one-page A4 PDF."""
    _register_fonts()
    with translation.override(settings.LANGUAGE_CODE):
        return _render(receipt, compress=compress)


def _render(receipt: RefundReceipt, *, compress: bool) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=1 if compress else 0)
    title = _("Electronic receipt of a refund by bank transfer")
    pdf.setTitle(f"{title} {receipt.number}")
    pdf.setAuthor(receipt.brand_name)
    pdf.setSubject(receipt.out_refund_no)
    width, height = A4
    left, right = 56, width - 56
    label_x, value_x = left + 8, left + 170

    _draw_text(pdf, left, height - 72, title, size=16, max_width=right - left)
    _draw_text(pdf, left, height - 94, receipt.brand_name, size=11, max_width=right - left)
    _draw_text(pdf, left, height - 116, _("Receipt number"), size=10)
    _draw_text(pdf, value_x, height - 116, receipt.number, size=10, bold=True)
    _draw_text(pdf, left, height - 132, _("Date and time (Beijing time)"), size=10)
    _draw_text(pdf, value_x, height - 132,
               receipt.issued_at.astimezone(RECEIPT_TIMEZONE).strftime("%Y-%m-%d %H:%M:%S"), size=10)

    rows = [
        (_("Payer"), receipt.payer_name),
        (_("Payer's bank"), receipt.payer_bank),
        (_("Payer's account"), receipt.payer_account),
        (_("Payee"), receipt.payee_name),
        (_("Payee's bank"), receipt.payee_bank),
        (_("Payee's account"), receipt.payee_account),
        (_("Amount (CNY)"), f"{money(receipt.amount)}"),
        (_("Amount in words"), amount_in_words(receipt.amount)),
        (_("Bank transfer reference"), receipt.transfer_reference),
        (_("Refund number"), receipt.out_refund_no),
        (_("Original payment reference"), receipt.payment_reference),
        (_("Original transfer reference"), receipt.payment_transfer_reference or "-"),
        (_("Order"), receipt.order_number),
        (_("Recorded by"), receipt.operator),
    ]
    row_height = 24
    top = height - 156
    bottom = top - row_height * len(rows)
    pdf.setLineWidth(0.8)
    pdf.rect(left, bottom, right - left, top - bottom)
    pdf.line(value_x - 8, bottom, value_x - 8, top)
    for index, (label, value) in enumerate(rows):
        y = top - row_height * (index + 1)
        if index:
            pdf.setLineWidth(0.4)
            pdf.line(left, y + row_height, right, y + row_height)
        _draw_text(pdf, label_x, y + 8, label, size=10, max_width=value_x - label_x - 16)
        _draw_text(pdf, value_x, y + 8, value or "-", size=11, bold=index == 6, max_width=right - value_x - 8)

    _draw_text(pdf, left, bottom - 28, _("This electronic receipt was issued when the refund transfer was "
                                         "recorded; it is kept with the refund."), size=9, max_width=right - left)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
