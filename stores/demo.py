"""The hook other apps use to add their part of the demo (``manage.py seed_demo``).

``demo_seeded`` is sent inside seed_demo's transaction, after brands, stores, menus and users
exist, with ``count(what, n)`` to report rows created. Receivers must create only what is
missing (seed_demo runs again on every ``make run``). stores never imports the apps that listen
(payments seeds the demo customer's gift card, canteen its organisation). ``history_days`` is
seed_demo's ``--history-days``: how many past days of orders the reports app generates.
"""

from django.dispatch import Signal

demo_seeded = Signal()
