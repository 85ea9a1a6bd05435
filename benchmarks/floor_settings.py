"""Settings for the bare-Django floor of ``lookups``: the application's own settings
(same database, pragmas, cache, apps), but no middleware at all and a URLconf with one
view, ``benchmarks.floors.bare_lookup``. Served by ``tms serve`` itself, so the gunicorn
configuration is the production one:
``DJANGO_SETTINGS_MODULE=benchmarks.floor_settings tms serve --no-collectstatic``.
"""

from tms.settings import *  # noqa: F403

MIDDLEWARE = []
ROOT_URLCONF = "benchmarks.floors"
# The admin wants its middleware; the floor never serves the admin.
SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "admin.E408", "admin.E409", "admin.E410"]  # noqa: F405
