"""WSGI entry point, used by ``tms serve``."""

import gc
import os

import django
from django.urls import get_resolver

from tms.core.handlers import TrackMyServiceApplication

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tms.settings")
django.setup(set_prefix=False)  # as django.core.wsgi.get_wsgi_application does

application = TrackMyServiceApplication()

# What is loaded now (Django, the apps, the URLs and the API schemas) lives as long as
# the process. Frozen, it is left out of the garbage collector's full passes, which
# otherwise walk all of it again during every request that allocates a lot (a bulk API
# call of 1,000 items).
get_resolver().url_patterns  # noqa: B018 (imports every view now rather than on first use)
gc.freeze()
