app_name = "payments"
urlpatterns = []
