"""Refunds API, included under /api/v1/ (namespace "api")."""

from django.urls import path

from . import views

urlpatterns = [
    path("orders/<uuid:order_id>/refunds/", views.OrderRefundCreateApi.as_view(), name="order-refund-create"),
    path("orders/<uuid:order_id>/refunds/code/", views.OrderRefundCodeApi.as_view(), name="order-refund-code"),
    path("refunds/<uuid:refund_id>/", views.RefundDetailApi.as_view(), name="refund-detail"),
    path("refunds/<uuid:refund_id>/withdraw/", views.RefundWithdrawApi.as_view(), name="refund-withdraw"),
    path("refunds/<uuid:refund_id>/destination/", views.RefundDestinationApi.as_view(), name="refund-destination"),
]
