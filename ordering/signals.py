"""Signals of ordering for the apps that depend on it (ordering imports none of them).

``order_ended``: an order awaiting payment was cancelled or expired. Sent inside the
transaction that holds the order's row lock, so a receiver's writes (payments: giving back
the part of a split payment that had succeeded) commit or roll back with the cancellation.
Receivers append the audit events they want recorded to ``audit_events``; ordering records
them last, after its own.
"""

from django.dispatch import Signal

order_ended = Signal()  # sender=Order, order=..., now=..., audit_events=list
