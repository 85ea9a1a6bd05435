from django.urls import path

from tms.backlog import views

urlpatterns = [
    path("staff/backlog/", views.backlog, name="backlog"),
    path("staff/backlog/list/", views.backlog_list, name="backlog-list"),
    path("staff/backlog/list/print/", views.backlog_list_print, name="backlog-list-print"),
    path("staff/backlog/list/csv/", views.backlog_list_csv, name="backlog-list-csv"),
    path("staff/returns/", views.returns, name="backlog-returns"),
    path("staff/returns/confirm/", views.returns_confirm, name="backlog-returns-confirm"),
    path("staff/returns/print/", views.returns_print, name="backlog-returns-print"),
    path("staff/returns/csv/", views.returns_csv, name="backlog-returns-csv"),
    path("staff/queries/", views.queries, name="queries"),
    path("staff/queries/<int:pk>/", views.query_answer, name="query-answer"),
]
