from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("notes/", views.note_list, name="note_list"),
    path("notes/<int:pk>/", views.note_detail, name="note_detail"),
    path("notes/<int:pk>/delete/", views.note_delete, name="note_delete"),
    path("notes/everyone/", views.everyone, name="everyone"),
    path("healthz", views.healthz, name="healthz"),
]
