from django.urls import path

from viz import views

urlpatterns = [
    path("", views.board, name="board"),
    path("api/state", views.state, name="state"),
]
