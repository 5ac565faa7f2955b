from django.urls import path

from ..views import orders

urlpatterns = [
    path("orders/", orders.order_list, name="order-list"),
    path("orders/<uuid:order_id>/", orders.order_detail, name="order-detail"),
    path("orders/<uuid:order_id>/status/", orders.order_status, name="order-status"),
    path("orders/<uuid:order_id>/cancel/", orders.order_cancel_view, name="order-cancel"),
]
