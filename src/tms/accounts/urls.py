from django.urls import path

from tms.accounts import views

urlpatterns = [
    path("staff/", views.home, name="staff-home"),
    path("staff/sign-in/", views.sign_in, name="staff-login"),
    path("staff/verify/", views.verify, name="staff-verify"),
    path("staff/enrol/", views.enrol, name="staff-enrol"),
    path("staff/recovery-codes/", views.recovery_codes, name="staff-recovery-codes"),
    path("staff/sign-out/", views.sign_out, name="staff-logout"),
    path("staff/people/", views.people, name="staff-people"),
    path("staff/people/<int:user_id>/", views.person_action, name="staff-person-action"),
]
