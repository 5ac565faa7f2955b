"""payments listening to ordering: an order that ends unpaid gives back what part of it was paid."""

from django.dispatch import receiver

from ordering.signals import order_ended

from .services.paying import give_back_ended_order


@receiver(order_ended, dispatch_uid="payments.give_back_ended_order")
def _order_ended(sender, order, now=None, audit_events=None, **kwargs):
    give_back_ended_order(order=order, now=now, audit_events=audit_events if audit_events is not None else [])
