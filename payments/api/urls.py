"""Payments API, included under /api/v1/ (namespace "api")."""

from django.urls import path

from . import notify, views

urlpatterns = [
    path("orders/<uuid:order_id>/payments/", views.OrderPaymentCreateApi.as_view(), name="order-payment-create"),
    path("payments/notify/<str:channel>/", notify.payment_notify, name="payment-notify"),
]
