"""What may be refunded, how much, and how it is decided (pure rules over rows already read).

Eligibility (DESIGN.md, Refunds):

- an order that was paid and not collected, within ``window_days`` of its payment: the customer
  may ask for the whole order or part of it, without a reason being checked (七天无理由);
- a collected (redeemed) order, within ``window_days`` of its collection: only lines and
  quantities that were wrong ("ordered 3 sets, ate 2": 1 set), with what was wrong; always
  reviewed by the store;
- never more portions of a line than were ordered, less those other requests already hold, and
  never more money than the order kept of its payments, less what other requests hold.

The amount is computed, never typed: the portions at the price paid for them, plus the delivery
fee when the request takes everything that is left of the order.

Decision: approved automatically when the amount is at most the brand's limit (100 CNY by
default), the order is not yet being prepared (still "paid") and no risk rule fired; anything
else waits for review, with a deadline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from config.money import money
from ordering.models import Order, OrderLine, OrderStatus

from .errors import RefundInvalid, RefundNotAllowed
from .models import RefundPolicy, RefundReason

MAX_REASON_TEXT = 500
REFUNDABLE_STATES = (OrderStatus.PAID, OrderStatus.PREPARING, OrderStatus.READY, OrderStatus.COMPLETED)
# What a customer may give as the reason for a collected order: something was wrong with it.
COLLECTED_REASONS = (RefundReason.WRONG_DISH, RefundReason.MISSING_ITEM, RefundReason.QUALITY, RefundReason.TASTE,
                     RefundReason.LATE, RefundReason.OTHER)


def policy_for(brand_id: int) -> RefundPolicy:
    """The brand's policy, created with the defaults the first time it is needed."""
    policy, _created = RefundPolicy.objects.get_or_create(brand_id=brand_id)
    return policy


@dataclass(frozen=True)
class LineAsk:
    line_id: int
    quantity: int


@dataclass(frozen=True)
class QuotedLine:
    line: OrderLine
    quantity: int

    @property
    def amount(self) -> Decimal:
        return money(self.line.unit_price * self.quantity)


@dataclass(frozen=True)
class Quote:
    lines: list[QuotedLine]
    delivery_fee: Decimal
    is_full: bool  # the whole order, in this one request
    takes_rest: bool  # after this request nothing of the order is left to refund
    collected: bool

    @property
    def amount(self) -> Decimal:
        return money(sum((q.amount for q in self.lines), Decimal("0")) + self.delivery_fee)

    @property
    def dish_portions(self) -> dict[int, int]:
        portions: dict[int, int] = {}
        for quoted in self.lines:
            if quoted.line.dish_id is not None:
                portions[quoted.line.dish_id] = portions.get(quoted.line.dish_id, 0) + quoted.quantity
        return portions


def clean_line_asks(raw) -> list[LineAsk] | None:
    """The lines of a request as given by a form or the API (``[{line, quantity}]``), checked for
    shape; ``None`` (or an empty list) means the whole order."""
    if raw in (None, "", []):
        return None
    if not isinstance(raw, list | tuple) or len(raw) > 100:
        raise RefundInvalid(_("Give the lines to refund as a list of {line, quantity}."), code="invalid_lines")
    asks: dict[int, int] = {}
    for item in raw:
        if not isinstance(item, dict):
            raise RefundInvalid(_("Give the lines to refund as a list of {line, quantity}."), code="invalid_lines")
        line_id, quantity = item.get("line"), item.get("quantity")
        if isinstance(line_id, bool) or isinstance(quantity, bool):
            raise RefundInvalid(_("Line and quantity are whole numbers."), code="invalid_lines")
        try:
            line_id, quantity = int(str(line_id)), int(str(quantity))
        except (TypeError, ValueError):
            raise RefundInvalid(_("Line and quantity are whole numbers."), code="invalid_lines") from None
        if quantity < 0 or quantity > 999:
            raise RefundInvalid(_("A quantity is between 1 and what was ordered."), code="invalid_quantity")
        if line_id in asks:
            raise RefundInvalid(_("Each line may be named once."), code="invalid_lines")
        if quantity:
            asks[line_id] = quantity
    if not asks:
        raise RefundInvalid(_("Choose at least one portion to refund."), code="invalid_quantity")
    return [LineAsk(line_id=k, quantity=v) for k, v in asks.items()]


def clean_reason(reason_code, reason_text) -> tuple[str, str]:
    code = str(reason_code or "").strip()
    if code not in RefundReason.values:
        raise RefundInvalid(_("Choose a reason for the refund."), code="invalid_reason")
    text = str(reason_text or "").strip()
    if "\x00" in text:
        raise RefundInvalid(_("The reason contains characters that are not allowed."), code="invalid_reason")
    if len(text) > MAX_REASON_TEXT:
        raise RefundInvalid(_("Say it in at most %(max)d characters.") % {"max": MAX_REASON_TEXT},
                            code="invalid_reason")
    if code == RefundReason.OTHER and not text:
        raise RefundInvalid(_("Tell us what happened."), code="invalid_reason")
    return code, text


def check_order_refundable(order: Order, policy: RefundPolicy, *, now: datetime) -> None:
    """Refuse an order that cannot be refunded at all now, with what to do instead."""
    if order.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED):
        raise RefundNotAllowed(_("This order was not paid, so there is nothing to refund."), code="not_paid")
    if order.status == OrderStatus.REFUNDED:
        raise RefundNotAllowed(_("This order has been refunded already."), code="already_refunded")
    if order.status not in REFUNDABLE_STATES:  # pragma: no cover - every state is named above
        raise RefundNotAllowed(_("This order cannot be refunded."))
    since = order.completed_at if order.status == OrderStatus.COMPLETED else order.paid_at
    if since is not None and now - since > timedelta(days=policy.window_days):
        raise RefundNotAllowed(
            _("Refunds can be asked for within %(days)d days; please contact the store.")
            % {"days": policy.window_days},
            code="too_late",
        )


def quote(
    order: Order, lines: list[OrderLine], asks: list[LineAsk] | None, *, held_portions: dict[int, int],
    delivery_fee_held: bool,
) -> Quote:
    """The lines and amount of a request. ``held_portions``: portions per order line that other
    requests already hold; ``delivery_fee_held``: whether one of them holds the delivery fee."""
    remaining = {line.pk: line.quantity - held_portions.get(line.pk, 0) for line in lines}
    by_id = {line.pk: line for line in lines}
    if asks is None:
        quoted = [QuotedLine(line=line, quantity=remaining[line.pk]) for line in lines if remaining[line.pk] > 0]
    else:
        quoted = []
        for ask in asks:
            line = by_id.get(ask.line_id)
            if line is None:
                raise RefundInvalid(_("This order has no such line."), code="invalid_line")
            if ask.quantity > remaining[line.pk]:
                if remaining[line.pk] <= 0:
                    raise RefundInvalid(
                        _("%(dish)s was refunded already.") % {"dish": line.name}, code="quantity_exceeds"
                    )
                raise RefundInvalid(
                    _("At most %(count)d of %(dish)s can be refunded.") % {"count": remaining[line.pk],
                                                                         "dish": line.name},
                    code="quantity_exceeds",
                )
            quoted.append(QuotedLine(line=line, quantity=ask.quantity))
        quoted.sort(key=lambda q: q.line.position)
    if not quoted:
        raise RefundNotAllowed(_("Everything on this order has been refunded or is being refunded."),
                               code="nothing_to_refund")
    taken = {q.line.pk: q.quantity for q in quoted}
    takes_rest = all(remaining[pk] - taken.get(pk, 0) <= 0 for pk in remaining)
    fee = order.delivery_fee if takes_rest and not delivery_fee_held and order.delivery_fee > 0 else Decimal("0.00")
    collected = order.status == OrderStatus.COMPLETED
    return Quote(lines=quoted, delivery_fee=money(fee), is_full=takes_rest and not any(held_portions.values()),
                 takes_rest=takes_rest, collected=collected)


@dataclass
class Decision:
    auto: bool
    why: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return "; ".join(self.why) if self.why else "auto"


def decide(*, policy: RefundPolicy, order: Order, amount: Decimal, risk_flags: list[dict]) -> Decision:
    """Approve automatically, or send to review (with every reason why, for the reviewer)."""
    why = []
    if amount > policy.auto_approve_limit:
        why.append(f"amount {amount} above {policy.auto_approve_limit}")
    if order.status == OrderStatus.COMPLETED:
        why.append("order collected")
    elif order.status != OrderStatus.PAID:
        why.append(f"order {order.status}")
    why.extend(f"risk: {flag['rule']}" for flag in risk_flags)
    return Decision(auto=not why, why=why)


# --- expected arrival --------------------------------------------------------------------


def add_business_days(day: date, days: int) -> date:
    """``day`` plus ``days`` working days (Monday to Friday; public holidays are not known)."""
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


@dataclass(frozen=True)
class Arrival:
    at_once: bool
    earliest: date | None = None
    latest: date | None = None


def expected_arrival(ranges: list[tuple[int, int]], *, sent_at: datetime | None) -> Arrival:
    """When the money reaches the customer: the slowest of the channels it goes back through,
    counted in business days from when it was sent (or from today while it is not sent yet)."""
    if not ranges or all(r == (0, 0) for r in ranges):
        return Arrival(at_once=True)
    start = timezone.localdate(sent_at) if sent_at else timezone.localdate()
    low = max(r[0] for r in ranges)
    high = max(r[1] for r in ranges)
    return Arrival(at_once=False, earliest=add_business_days(start, low), latest=add_business_days(start, high))
