"""The member's pages (my canteen: balance, ledger, dietary needs, nutrition)."""

urlpatterns: list = []
