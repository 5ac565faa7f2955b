"""config.money: the one rounding rule (ROUND_HALF_UP) that stores and audit use."""

from decimal import Decimal

import pytest

from audit.hashing import normalise_amount
from config.money import CENT, money
from stores.templatetags.store_tags import money as money_filter


@pytest.mark.parametrize(("given", "expected"), [
    ("0.125", Decimal("0.13")),  # half-even would give 0.12
    (Decimal("2.675"), Decimal("2.68")),
    ("-0.125", Decimal("-0.13")),
    (7, Decimal("7.00")),
    (" 4.5 ", Decimal("4.50")),
])
def test_money_rounds_half_up_to_cents(given, expected):
    assert money(given) == expected
    assert money(given).as_tuple().exponent == CENT.as_tuple().exponent


@pytest.mark.parametrize("given", [0.1, True, None, [1]])
def test_money_refuses_floats_and_non_numbers(given):
    with pytest.raises(TypeError):
        money(given)


@pytest.mark.parametrize("given", ["abc", "NaN", "Infinity", ""])
def test_money_refuses_text_that_is_no_amount(given):
    with pytest.raises(ValueError):
        money(given)


def test_stores_and_audit_round_the_same_way():
    assert normalise_amount("0.125") == money("0.125") == Decimal("0.13")
    assert money_filter(Decimal("0.125")) == "¥0.13"
