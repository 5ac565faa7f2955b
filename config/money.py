"""Money: one rounding rule for every app (CNY, two places, ROUND_HALF_UP).

Build amounts from strings, Decimals or ints, never floats: ``money("4.5")`` -> ``Decimal("4.50")``.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def money(value: Decimal | str | int) -> Decimal:
    """``value`` as an amount in yuan with exactly two places, rounded half up.

    Raises ``TypeError`` for floats (and booleans, and anything that is not a number's text) and
    ``ValueError`` for text that is not a finite number.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | str | int):
        raise TypeError(f"Amounts are Decimals, strings or ints, never {type(value).__name__}.")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"Not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"Not an amount: {value!r}")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)
