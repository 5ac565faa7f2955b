"""Every write to refund requests. One module per concern, re-exported here.

Lock order (continuing ``ordering.services`` and ``payments.services``): the order row, then the
customer's account row (requests only), then the order's refund tally, then the request row, then
payment rows and refund attempts (the payments services), then wallet rows, then the audit chain,
always the last write. No payment channel is called inside a transaction: the payments app sends
each refund attempt after its transaction commits.
"""

from .approving import refund_approve, refund_escalate, refund_reject, refund_withdraw, refunds_escalate_overdue
from .executing import (
    clean_bank_account,
    refund_change_destination,
    refund_retry,
    refund_submit,
    refund_sync,
    refunds_sweep,
)
from .freezing import refund_customer_unfreeze
from .policy_admin import refund_policy_update
from .requesting import refund_code_send, refund_request_create

__all__ = [
    "clean_bank_account",
    "refund_approve",
    "refund_change_destination",
    "refund_code_send",
    "refund_customer_unfreeze",
    "refund_escalate",
    "refund_policy_update",
    "refund_reject",
    "refund_request_create",
    "refund_retry",
    "refund_submit",
    "refund_sync",
    "refund_withdraw",
    "refunds_escalate_overdue",
    "refunds_sweep",
]
