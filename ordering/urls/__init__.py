"""Pages of ordering: the customer's cart and checkout (with table QR and kiosk), their orders,
and the store staff's kitchen display, pickup screen and redemption counter."""

from .cart import urlpatterns as cart_urls
from .kitchen import urlpatterns as kitchen_urls
from .orders import urlpatterns as order_urls

app_name = "ordering"
urlpatterns = [*cart_urls, *order_urls, *kitchen_urls]
