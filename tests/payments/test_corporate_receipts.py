"""The electronic receipt of a refund transfer: amounts in words and the PDF itself."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payments.receipts import RefundReceipt, amount_in_words, mask_account, refund_receipt_pdf


@pytest.mark.parametrize("amount, words", [
    ("0.00", "零元整"),
    ("0.05", "伍分"),
    ("0.50", "伍角整"),
    ("1.05", "壹元零伍分"),
    ("10", "壹拾元整"),
    ("45.00", "肆拾伍元整"),
    ("45.80", "肆拾伍元捌角整"),
    ("45.86", "肆拾伍元捌角陆分"),
    ("1005.20", "壹仟零伍元贰角整"),
    ("10010", "壹万零壹拾元整"),
    ("101000", "壹拾万壹仟元整"),
    ("100000.05", "壹拾万元零伍分"),
    ("1000000.00", "壹佰万元整"),
    ("10000001", "壹仟万零壹元整"),
    ("100000000", "壹亿元整"),
    ("123456789.12", "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元壹角贰分"),
])
def test_amounts_are_written_in_financial_capitals(amount, words):
    assert amount_in_words(Decimal(amount)) == words


def test_a_negative_amount_has_no_words():
    with pytest.raises(ValueError, match="Out of range"):
        amount_in_words(Decimal("-1.00"))


def test_accounts_show_only_their_last_4_digits():
    assert mask_account("4321") == "****4321"
    assert mask_account("") == "-"


def _receipt(**changes) -> RefundReceipt:
    values = {
        "number": "RR20260301ABCDEF12", "issued_at": datetime(2026, 3, 1, 2, 30, tzinfo=UTC),
        "brand_name": "湘味小馆", "payer_name": "Demo Restaurant Group Co., Ltd.",
        "payer_bank": "China Merchants Bank", "payer_account": "6225 8801 2345 6789",
        "payee_name": "星河科技有限公司", "payee_bank": "招商银行上海分行", "payee_account": "****4321",
        "amount": Decimal("1005.20"), "out_refund_no": "rf0123456789abcdef", "payment_reference": "CP0123456789",
        "payment_transfer_reference": "TRF-IN-1", "order_number": "SH001 #012", "transfer_reference": "BOC-77812",
        "operator": "演示总部经理",
    }
    return RefundReceipt(**{**values, **changes})


def test_the_receipt_is_a_pdf_with_its_figures_as_text():
    pdf = refund_receipt_pdf(_receipt())
    assert pdf.startswith(b"%PDF-1.") and pdf.rstrip().endswith(b"%%EOF")
    assert 3000 < len(pdf) < 30000
    for text in (b"RR20260301ABCDEF12", b"1005.20", b"BOC-77812", b"rf0123456789abcdef", b"CP0123456789",
                 b"TRF-IN-1", b"SH001 #012", b"****4321", b"2026-03-01 10:30:00"):  # Beijing time
        assert text in pdf, text
    assert b"/STSong-Light" in pdf  # the CID font, named, not embedded
    assert b"FontFile" not in pdf


def test_a_compressed_receipt_is_smaller_and_hides_its_text():
    plain, packed = refund_receipt_pdf(_receipt()), refund_receipt_pdf(_receipt(), compress=True)
    assert packed.startswith(b"%PDF-") and len(packed) < len(plain)
    assert b"BOC-77812" not in packed


def test_very_long_names_still_fit_on_the_page():
    pdf = refund_receipt_pdf(_receipt(payee_name="很长的公司名称" * 20, payee_bank="Bank " * 30,
                                      transfer_reference="R" * 64))
    assert pdf.startswith(b"%PDF-")
    assert b"R" * 64 in pdf  # shrunk to fit, never cut
