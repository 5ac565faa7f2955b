"""Refund pages (app namespace "refunds"): the customer's, and the store counter's."""

from django.urls import path

from . import views

app_name = "refunds"
urlpatterns = [
    path("orders/<uuid:order_id>/refund/", views.order_refund, name="order-refund"),
    path("refunds/", views.refund_list, name="refund-list"),
    path("refunds/<uuid:refund_id>/", views.refund_detail, name="refund-detail"),
    path("refunds/<uuid:refund_id>/status/", views.refund_status, name="refund-status"),
    path("refunds/<uuid:refund_id>/withdraw/", views.refund_withdraw, name="refund-withdraw"),
    path("refunds/<uuid:refund_id>/destination/", views.refund_destination, name="refund-destination"),
    # <code:...> is stores.converters.CodeConverter (registered in StoresConfig.ready).
    path("kitchen/<code:store_code>/counter/refunds/", views.counter_refunds, name="counter-refunds"),
    path("kitchen/<code:store_code>/counter/refunds/<uuid:order_id>/", views.counter_refund, name="counter-refund"),
]
