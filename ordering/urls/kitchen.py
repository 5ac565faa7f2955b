"""Store staff screens: kitchen display, pickup screen, redemption counter (app namespace "ordering")."""

from django.urls import path

from ordering.views import kitchen as views

# <code:...> is stores.converters.CodeConverter (registered in StoresConfig.ready).
urlpatterns = [
    path("kitchen/<code:store_code>/", views.kitchen, name="kitchen"),
    path("kitchen/<code:store_code>/board/", views.kitchen_board, name="kitchen-board"),
    path("kitchen/<code:store_code>/orders/<uuid:order_id>/bump/", views.kitchen_bump, name="kitchen-bump"),
    path("kitchen/<code:store_code>/orders/<uuid:order_id>/recall/", views.kitchen_recall, name="kitchen-recall"),
    path("kitchen/<code:store_code>/pickup/", views.pickup_screen, name="pickup-screen"),
    path("kitchen/<code:store_code>/pickup/board/", views.pickup_board, name="pickup-board"),
    path("kitchen/<code:store_code>/counter/", views.counter, name="counter"),
    path("kitchen/<code:store_code>/counter/kiosk/", views.counter_kiosk, name="counter-kiosk"),
    path("kitchen/<code:store_code>/counter/redeem/", views.counter_redeem, name="counter-redeem"),
    path(
        "kitchen/<code:store_code>/counter/orders/<uuid:order_id>/paid/", views.counter_pay, name="counter-pay"
    ),
]
