from django.urls import path

from jifen.reviews import views

app_name = "reviews"
urlpatterns = [
    path("reviews/", views.my_reviews, name="mine"),
    path("reviews/new/<int:line_id>/", views.review_new, name="new"),
    path("reviews/<int:review_id>/helpful/", views.review_helpful, name="helpful"),
    path("items/<int:item_id>/reviews/", views.item_reviews, name="item"),
]
