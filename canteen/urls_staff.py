"""Canteen staff pages (members, top-ups, batches, settlement, nutrition)."""

from django.urls import path

from . import views_staff

urlpatterns: list = [
    path("staff/", views_staff.staff_home, name="staff-home"),
    path("staff/<int:org_id>/", views_staff.organisation_detail, name="staff-organisation"),
    path("staff/<int:org_id>/members/<int:member_id>/", views_staff.member_detail, name="staff-member"),
    path("staff/<int:org_id>/batches/", views_staff.batch_list, name="staff-batches"),
    path("staff/<int:org_id>/batches/<int:batch_id>/", views_staff.batch_detail, name="staff-batch"),
    path("staff/<int:org_id>/batches/<int:batch_id>/apply/", views_staff.batch_apply, name="staff-batch-apply"),
    path("staff/<int:org_id>/settlement/", views_staff.settlement, name="staff-settlement"),
    path("staff/<int:org_id>/settlement.csv", views_staff.settlement_csv, name="staff-settlement-csv"),
]
