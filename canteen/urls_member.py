"""The member's pages (my canteen: balance, ledger, dietary needs, nutrition), and the nutrition
pages of canteen staff (per organisation) and HQ (per canteen store)."""

from django.urls import path

from . import views_member

urlpatterns: list = [
    path("me/", views_member.member_home, name="member-home"),
    path("staff/<int:org_id>/nutrition/", views_member.staff_nutrition, name="staff-nutrition"),
    path("hq/nutrition/", views_member.hq_nutrition, name="hq-nutrition"),
]
