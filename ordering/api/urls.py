"""Orders API, included under /api/v1/ (namespace "api")."""

from django.urls import path

from . import views

urlpatterns = [
    path("orders/", views.OrderListCreateApi.as_view(), name="order-list"),
    path("orders/<uuid:order_id>/", views.OrderDetailApi.as_view(), name="order-detail"),
    path("orders/<uuid:order_id>/cancel/", views.OrderCancelApi.as_view(), name="order-cancel"),
    path("stores/<code:store_code>/redeem/", views.StoreRedeemApi.as_view(), name="store-redeem"),
]
