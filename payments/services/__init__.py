"""Every write to payments, refunds to payment channels, gift cards, corporate accounts and
reconciliation. One module per concern, re-exported here.

Lock order (continuing ``ordering.services``): the order row, then payment rows, then refund
attempt rows, then wallet rows (gift card, subsidy), then the audit chain, always the last write.
No provider is ever called inside an open transaction: the intent is committed first, the call
made after commit, and its answer recorded in a new transaction.
"""

from .gift_cards import (
    GIFT_CARD_CODE_DIGITS,
    gift_card_bind,
    gift_card_for_refund,
    gift_card_issue,
    gift_card_set_active,
    gift_card_top_up,
)
from .paying import PaymentResult, give_back_ended_order, payment_create, payment_split_create
from .reconciliation import reconcile_day, reconcile_yesterday, reconciliation_mismatch_resolve
from .refunding import (
    BankAccount,
    refund_attempt_create,
    refund_attempt_execute,
    refund_attempt_finished,
    refundable_from,
)

__all__ = [
    "GIFT_CARD_CODE_DIGITS",
    "BankAccount",
    "PaymentResult",
    "gift_card_bind",
    "gift_card_for_refund",
    "gift_card_issue",
    "gift_card_set_active",
    "gift_card_top_up",
    "give_back_ended_order",
    "payment_create",
    "payment_split_create",
    "reconcile_day",
    "reconcile_yesterday",
    "reconciliation_mismatch_resolve",
    "refund_attempt_create",
    "refund_attempt_execute",
    "refund_attempt_finished",
    "refundable_from",
]
