"""WSGI entry point, used by ``tms serve``."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tms.settings")

application = get_wsgi_application()
