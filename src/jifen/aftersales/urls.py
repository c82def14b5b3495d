from django.urls import path

from jifen.aftersales import views

app_name = "aftersales"
urlpatterns = [
    path("aftersales/", views.aftersale_list, name="list"),
    path("aftersales/new/<str:order_number>/", views.aftersale_new, name="new"),
    path("aftersales/<str:number>/", views.aftersale_detail, name="detail"),
    path("aftersales/<str:number>/cancel/", views.aftersale_cancel, name="cancel"),
    path("aftersales/<str:number>/return/", views.aftersale_return_shipped, name="return_shipped"),
]
