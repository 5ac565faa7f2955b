"""Canteen staff pages (members, top-ups, batches, settlement, nutrition)."""

urlpatterns: list = []
