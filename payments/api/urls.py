"""Payments API, included under /api/v1/ (namespace "api")."""

from django.urls import path

from . import views

urlpatterns = [
    path("orders/<uuid:order_id>/payments/", views.OrderPaymentCreateApi.as_view(), name="order-payment-create"),
]
