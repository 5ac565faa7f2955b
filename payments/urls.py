from django.urls import path

from . import views

app_name = "payments"
urlpatterns = [
    path("orders/<uuid:order_id>/pay/", views.order_pay, name="order-pay"),
    path("orders/<uuid:order_id>/pay/return/", views.order_pay_return, name="order-pay-return"),
    path("account/gift-cards/", views.gift_cards, name="gift-cards"),
]
