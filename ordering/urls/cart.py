"""The customer's ordering menu and cart, checkout, table QR codes and the store kiosk."""

from django.urls import path

from ordering.views import cart as views
from ordering.views import kiosk

# <code:...> is stores.converters.CodeConverter (registered in StoresConfig.ready).
urlpatterns = [
    path("order/<code:store_code>/", views.menu_page, name="menu"),
    path("order/<code:store_code>/cart/add/", views.cart_add, name="cart-add"),
    path("order/<code:store_code>/cart/update/", views.cart_update, name="cart-update"),
    path("order/<code:store_code>/cart/remove/", views.cart_remove, name="cart-remove"),
    path("order/<code:store_code>/table/leave/", views.table_leave, name="table-leave"),
    path("order/<code:store_code>/checkout/", views.checkout, name="checkout"),
    path("t/<code:store_code>/<str:table>/", views.table_page, name="table"),
    path("kiosk/<code:store_code>/", kiosk.kiosk_menu, name="kiosk"),
    path("kiosk/<code:store_code>/setup/", kiosk.kiosk_setup, name="kiosk-setup"),
    path("kiosk/<code:store_code>/cart/add/", kiosk.kiosk_cart_add, name="kiosk-cart-add"),
    path("kiosk/<code:store_code>/cart/update/", kiosk.kiosk_cart_update, name="kiosk-cart-update"),
    path("kiosk/<code:store_code>/cart/remove/", kiosk.kiosk_cart_remove, name="kiosk-cart-remove"),
    path("kiosk/<code:store_code>/checkout/", kiosk.kiosk_checkout, name="kiosk-checkout"),
    path("kiosk/<code:store_code>/done/<uuid:order_id>/", kiosk.kiosk_done, name="kiosk-done"),
]
