"""Canteen API, included under /api/v1/ (namespace "api")."""

from django.urls import path

from . import views

urlpatterns: list = [
    path("canteen/topups/", views.TopupCreateApi.as_view(), name="canteen-topup-create"),
    path("canteen/batches/", views.BatchCreateApi.as_view(), name="canteen-batch-create"),
    path("canteen/batches/<int:batch_id>/apply/", views.BatchApplyApi.as_view(), name="canteen-batch-apply"),
]
