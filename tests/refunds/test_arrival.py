"""When a refund's money should arrive: business days per channel (WeChat Pay / Alipay 1-3, a
bank transfer 1-5, gift card and meal subsidy at once), counted from when it was sent."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from payments.models import RefundDestination
from refunds.models import RefundRequest
from refunds.policy import add_business_days
from refunds.selectors import refund_arrival, refund_timeline

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIDAY = datetime(2026, 12, 4, 15, 0, tzinfo=SHANGHAI)
ORIGINAL, GIFT_CARD, BANK = RefundDestination.ORIGINAL, RefundDestination.GIFT_CARD, RefundDestination.BANK_TRANSFER


def _sent(at):
    return RefundRequest(submitted_at=at, status="processing", created_at=at, approved_at=at)


def test_business_days_skip_the_weekend():
    assert add_business_days(date(2026, 12, 4), 1) == date(2026, 12, 7)  # Friday + 1 = Monday
    assert add_business_days(date(2026, 12, 4), 3) == date(2026, 12, 9)
    assert add_business_days(date(2026, 12, 5), 1) == date(2026, 12, 7)  # from a Saturday
    assert add_business_days(date(2026, 12, 7), 5) == date(2026, 12, 14)
    assert add_business_days(date(2026, 12, 7), 0) == date(2026, 12, 7)


@pytest.mark.parametrize(("channels", "earliest", "latest"), [
    ([("wechat", ORIGINAL)], date(2026, 12, 7), date(2026, 12, 9)),           # 1-3 business days
    ([("alipay", ORIGINAL)], date(2026, 12, 7), date(2026, 12, 9)),
    ([("wechat", BANK)], date(2026, 12, 7), date(2026, 12, 11)),              # a bank transfer: 1-5
    ([("corporate", ORIGINAL)], date(2026, 12, 7), date(2026, 12, 11)),       # back to the company's bank
    ([("meal_subsidy", ORIGINAL), ("wechat", ORIGINAL)], date(2026, 12, 7), date(2026, 12, 9)),  # the slowest
])
def test_the_expected_arrival_per_channel_from_when_it_was_sent(channels, earliest, latest):
    arrival = refund_arrival(_sent(FRIDAY), channels=[(c, d, Decimal("10.00")) for c, d in channels])
    assert (arrival.at_once, arrival.earliest, arrival.latest) == (False, earliest, latest)


@pytest.mark.parametrize("channels", [
    [("gift_card", ORIGINAL)], [("meal_subsidy", ORIGINAL)], [("wechat", GIFT_CARD)],
    [("gift_card", ORIGINAL), ("meal_subsidy", ORIGINAL)],
])
def test_gift_card_and_subsidy_money_is_back_at_once(channels):
    arrival = refund_arrival(_sent(FRIDAY), channels=[(c, d, Decimal("10.00")) for c, d in channels])
    assert arrival.at_once and arrival.earliest is None and arrival.latest is None


def test_the_timeline_says_when_the_money_arrives():
    refund = _sent(FRIDAY)
    arrival = refund_arrival(refund, channels=[("wechat", ORIGINAL, Decimal("45.00"))])
    with translation.override("en"):
        last = refund_timeline(refund, arrival)[-1]
    assert (last.label, last.detail, last.done) == ("Money arrives", "Between 2026-12-07 and 2026-12-09", False)
