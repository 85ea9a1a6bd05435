"""Settings from TMS_* environment variables, with safe production defaults.

TMS_MODE selects the defaults: ``production`` (the default: secret key required,
debug off), ``demo`` (make demo) or ``test`` (the test suite).
"""

from __future__ import annotations

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


TMS_MODE = os.environ.get("TMS_MODE", "production").strip().lower()
if TMS_MODE not in {"production", "demo", "test"}:
    raise ImproperlyConfigured("TMS_MODE must be production, demo or test.")
IS_PRODUCTION = TMS_MODE == "production"

DATA_DIR = Path(os.environ.get("TMS_DATA_DIR", "./var")).resolve()

SECRET_KEY = os.environ.get("TMS_SECRET_KEY", "")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise ImproperlyConfigured(
            "TMS_SECRET_KEY is required in production. Set it to a long random string, "
            "or set TMS_MODE=demo to try the system."
        )
    SECRET_KEY = "insecure-demo-and-test-key-never-use-in-production"  # noqa: S105

DEBUG = env_bool("TMS_DEBUG", default=False)
ALLOWED_HOSTS = env_list(
    "TMS_ALLOWED_HOSTS", "" if IS_PRODUCTION else "127.0.0.1,localhost,testserver"
)

INSTALLED_APPS = [
    "tms.accounts.admin_site.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "tms.core",
    "tms.directory",
    "tms.applications",
    "tms.notifications",
    "tms.tracking",
    "tms.integrations",
    "tms.audit",
    "tms.accounts",
    "tms.counter",
    "tms.receipt",
    "tms.manifests",
    "tms.backlog",
    "tms.reports",
    "tms.privacy",
    "tms.demo",
]

MIDDLEWARE = [
    # First, so that every log line and every measured request has them.
    "tms.core.request_context.RequestIdMiddleware",
    "tms.core.metrics.RequestMetricsMiddleware",
    # A database outage answers 503 at once (measured, and with its request id).
    "tms.core.outage.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tms.core.outage.SessionMiddleware",  # Django's, with outages answered 503
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tms.accounts.middleware.IdleSignOutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tms.core.problems.ApiProblemsMiddleware",
    "tms.core.request_context.RequestAddressMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its answer.
    "axes.middleware.AxesMiddleware",
]

# The public status lookup (GET or HEAD under this path) is the busiest request by far,
# and it has no session, sign-in, form, message or static file: ``tms.core.handlers``
# answers it through MIDDLEWARE less these, which takes about a tenth off its CPU
# (measured in-process: 385 against 343 µs a lookup). Its answer is the same either way
# (core/tests/test_handlers.py).
PUBLIC_LOOKUP_PATH = "/api/v1/track/"
PUBLIC_LOOKUP_MIDDLEWARE = [
    name
    for name in MIDDLEWARE
    if name
    not in {
        "whitenoise.middleware.WhiteNoiseMiddleware",
        "tms.core.outage.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django_otp.middleware.OTPMiddleware",
        "tms.accounts.middleware.IdleSignOutMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "axes.middleware.AxesMiddleware",
    }
]

ROOT_URLCONF = "tms.urls"
WSGI_APPLICATION = "tms.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tms.accounts.context_processors.staff_menu",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# SQLite in WAL mode is the embedded default; IMMEDIATE transactions take the
# write lock up front, so concurrent writers queue on the busy timeout instead
# of failing midway with "database is locked".
SQLITE_OPTIONS = {
    "init_command": ("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"),
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
}

_database_url = os.environ.get("TMS_DATABASE_URL", "")
if _database_url:
    _default_db = dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)
    if _default_db["ENGINE"] == "django.db.backends.postgresql":
        # Django's own, reading timestamps with psycopg's C loader (tms.core.postgresql).
        _default_db["ENGINE"] = "tms.core.postgresql"
else:
    _default_db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / "tms.sqlite3"),
        # Opening a SQLite connection (and its PRAGMAs) cost more than a lookup.
        "CONN_MAX_AGE": 600,
    }
if _default_db["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    _default_db["OPTIONS"] = {**SQLITE_OPTIONS, **_default_db.get("OPTIONS", {})}
    _default_db.setdefault("TEST", {})
    # Tests use a file database so that threads and processes share it; one per test
    # run, so that two runs on one machine do not trample each other.
    _default_db["TEST"].setdefault(
        "NAME", os.environ.get("TMS_TEST_DB") or str(DATA_DIR / f"test-tms-{os.getpid()}.sqlite3")
    )
DATABASES = {"default": _default_db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (shared counters such as rate limits) --------------------------------
_cache_url = os.environ.get("TMS_CACHE_URL", "")
if _cache_url.startswith(("redis://", "rediss://")):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _cache_url,
            "KEY_PREFIX": os.environ.get("TMS_CACHE_PREFIX", "tms"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "tms",
        }
    }

# --- Background tasks -----------------------------------------------------------
# Code uses the django-tasks API only; the backend is a setting.
TASKS = {
    "default": {
        "BACKEND": os.environ.get(
            "TMS_TASKS_BACKEND",
            "django_tasks.backends.immediate.ImmediateBackend"
            if TMS_MODE == "test"
            else "django_tasks_db.DatabaseBackend",
        ),
        "QUEUES": ["default", "sms", "bulk"],
    }
}

# --- Authentication ---------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Staff sign in with a password and a second factor (SPEC §2); django-axes locks an
# account after repeated failed passwords; idle sessions end (accounts.middleware).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "staff-login"
AXES_FAILURE_LIMIT = int(os.environ.get("TMS_SIGN_IN_FAILURES", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("TMS_SIGN_IN_LOCK_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tms.accounts.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "tms.core.request_context.client_address"
AXES_VERBOSE = False
TMS_STAFF_IDLE_MINUTES = int(os.environ.get("TMS_STAFF_IDLE_MINUTES", "30"))
SESSION_COOKIE_AGE = 12 * 3600  # a working day at most, even when active
OTP_TOTP_ISSUER = os.environ.get("TMS_SITE_NAME", "Track My Service")
if TMS_MODE == "test":
    # Fast hashing keeps the suite quick; never used outside tests.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- Internationalisation -------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("sw", _("Kiswahili"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TMS_TIME_ZONE", "Africa/Nairobi")
USE_I18N = True
USE_TZ = True

# --- Static files -------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage",
    },
}
# Served by the application itself (no CDN): WhiteNoise finds files without
# collectstatic outside production.
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
if not IS_PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("TMS_SECURE_COOKIES", default=IS_PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TMS_BEHIND_TLS_PROXY") else None
)

# --- Logging: no personal data; see docs/ARCHITECTURE.md ----------------------------------
# TMS_LOG_FORMAT: "json" (one JSON object per line, for log collectors; the default in
# production) or "plain" (one readable line; the default otherwise).
# TMS_LOG_LEVEL: the root level (default INFO).
TMS_LOG_FORMAT = os.environ.get("TMS_LOG_FORMAT", "json" if IS_PRODUCTION else "plain").lower()
if TMS_LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured("TMS_LOG_FORMAT must be json or plain.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "tms.core.logs.RequestIdFilter"},
        # A safety net on the handler, so every logger's lines pass it: masks phone and
        # ID numbers (the code should not log them in the first place).
        "personal_data": {"()": "tms.core.logs.PersonalDataFilter"},
        "no_template_context": {"()": "tms.core.logs.NoTemplateContextFilter"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {"()": "tms.core.logs.PlainFormatter"},
        "json": {"()": "tms.core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": TMS_LOG_FORMAT,
            "filters": ["request_id", "personal_data"],
        },
        # Replaces Django's own: errors mailed to TMS_ADMIN_EMAILS, without personal data.
        "mail_admins": {
            "level": "ERROR",
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false", "personal_data"],
            "reporter_class": "tms.core.logs.PersonalDataExceptionReporter",
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("TMS_LOG_LEVEL", "INFO")},
    "loggers": {
        # SQL statements carry personal data in their parameters: never below WARNING.
        "django.db.backends": {"level": "WARNING"},
        "django.template": {"filters": ["no_template_context"]},
        # Django's default sends its errors to a mail handler of its own; this is ours.
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
    },
}
DEFAULT_EXCEPTION_REPORTER_FILTER = "tms.core.logs.PersonalDataReporterFilter"

# --- Health and metrics (/readyz, /metrics) -----------------------------------------------
# TMS_METRICS_TOKEN: a scraper sending "Authorization: Bearer <token>" may read /metrics
# (unset: no token is accepted).
TMS_METRICS_TOKEN = os.environ.get("TMS_METRICS_TOKEN", "")
# TMS_METRICS_ALLOW: comma-separated addresses or networks (CIDR) that may read /metrics
# without the token (default: this machine only). Others get 404.
TMS_METRICS_ALLOW = env_list("TMS_METRICS_ALLOW", "127.0.0.1,::1")
for _network in TMS_METRICS_ALLOW:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"TMS_METRICS_ALLOW: {_network!r} is not an address or network."
        ) from None
# TMS_METRICS_DIR: where `tms serve` keeps its worker processes' metrics, emptied at each
# start (default: <TMS_DATA_DIR>/metrics); one directory per `tms serve`.
TMS_METRICS_DIR = Path(os.environ.get("TMS_METRICS_DIR") or DATA_DIR / "metrics").resolve()

# --- Public rate limits (SPEC §11): "count/period", period s, m, h or d ---------------------
TMS_PROXY_COUNT = int(os.environ.get("TMS_PROXY_COUNT", "0"))
TMS_RATE_LOOKUP_PER_ADDRESS = os.environ.get("TMS_RATE_LOOKUP_PER_ADDRESS", "60/m")
TMS_RATE_LOOKUP_PER_REFERENCE = os.environ.get("TMS_RATE_LOOKUP_PER_REFERENCE", "30/m")
TMS_RATE_LOST_PER_ADDRESS = os.environ.get("TMS_RATE_LOST_PER_ADDRESS", "10/h")
TMS_RATE_LOST_PER_PHONE = os.environ.get("TMS_RATE_LOST_PER_PHONE", "3/h")
TMS_RATE_CALLBACK_PER_PHONE = os.environ.get("TMS_RATE_CALLBACK_PER_PHONE", "30/m")
TMS_RATE_AGENCY_TOKEN = os.environ.get("TMS_RATE_AGENCY_TOKEN", "600/m")
# The change feed serves events this old or older (longer than any transaction runs).
TMS_CHANGE_FEED_SETTLE_SECONDS = int(os.environ.get("TMS_CHANGE_FEED_SETTLE_SECONDS", "30"))
# Reports (SPEC §10): history events younger than this are left for the next rollup update
# (a transaction may still commit an older one); SMS figures of the last N days are
# recomputed at each update (delivery reports arrive late).
TMS_REPORTS_SETTLE_SECONDS = int(os.environ.get("TMS_REPORTS_SETTLE_SECONDS", "60"))
TMS_REPORTS_SMS_DAYS = int(os.environ.get("TMS_REPORTS_SMS_DAYS", "7"))
# axes.W006: accounts are locked by username alone, deliberately: staff of one centre
# share an address, and one mistyping colleague must not lock out the rest.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# --- Personal data retention (SPEC §11) ---------------------------------------------------
# Personal data of applications closed longer ago than this is anonymised by a daily job.
TMS_PERSONAL_DATA_RETENTION_DAYS = int(os.environ.get("TMS_PERSONAL_DATA_RETENTION_DAYS", "730"))

# --- Email (staff alerts) ---------------------------------------------------------------
ADMINS = [("TMS operations", email) for email in env_list("TMS_ADMIN_EMAILS")]
SERVER_EMAIL = DEFAULT_FROM_EMAIL = os.environ.get("TMS_FROM_EMAIL", "tms@localhost")
EMAIL_HOST = os.environ.get("TMS_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("TMS_EMAIL_PORT", "25"))
if not IS_PRODUCTION:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- Track My Service -----------------------------------------------------------------
TMS_SITE_NAME = os.environ.get("TMS_SITE_NAME", "Track My Service")
# Printed in SMS: keep them short.
TMS_TRACK_URL = os.environ.get("TMS_TRACK_URL", "track.go.ke")
TMS_USSD_CODE = os.environ.get("TMS_USSD_CODE", "*384*1234#")

# --- SMS (SPEC §5, §8) ---------------------------------------------------------------
TMS_SMS_BACKEND = os.environ.get("TMS_SMS_BACKEND", "console")
TMS_AT_USERNAME = os.environ.get("TMS_AT_USERNAME", "sandbox")
TMS_AT_API_KEY = os.environ.get("TMS_AT_API_KEY", "")
TMS_AT_SENDER_ID = os.environ.get("TMS_AT_SENDER_ID", "")
TMS_AT_BASE_URL = os.environ.get("TMS_AT_BASE_URL", "")
TMS_AT_CALLBACK_TOKEN = os.environ.get("TMS_AT_CALLBACK_TOKEN", "")
TMS_QUIET_HOURS = os.environ.get("TMS_QUIET_HOURS", "20:00-07:00")
# How long a sender may hold a claimed message before it counts as interrupted, how
# long an interrupted one waits for a delivery report, and how often the worker checks.
TMS_SMS_LEASE_SECONDS = int(os.environ.get("TMS_SMS_LEASE_SECONDS", "120"))
TMS_SMS_UNKNOWN_HOLD_SECONDS = int(os.environ.get("TMS_SMS_UNKNOWN_HOLD_SECONDS", "300"))
TMS_SMS_SWEEP_SECONDS = int(os.environ.get("TMS_SMS_SWEEP_SECONDS", "60"))
TMS_SMS_BATCH = int(os.environ.get("TMS_SMS_BATCH", "500"))
TMS_SMS_CONCURRENCY = int(os.environ.get("TMS_SMS_CONCURRENCY", "8"))
TMS_SCHEDULE_CHECK_SECONDS = float(os.environ.get("TMS_SCHEDULE_CHECK_SECONDS", "5"))
# A worker beats this often; one silent for TMS_WORKER_LOST_SECONDS has its task released.
TMS_WORKER_HEARTBEAT_SECONDS = float(os.environ.get("TMS_WORKER_HEARTBEAT_SECONDS", "5"))
TMS_WORKER_LOST_SECONDS = float(os.environ.get("TMS_WORKER_LOST_SECONDS", "30"))
if TMS_SMS_BACKEND not in {"console", "africastalking"}:
    raise ImproperlyConfigured("TMS_SMS_BACKEND must be console or africastalking.")
if TMS_SMS_BACKEND == "africastalking" and not TMS_AT_API_KEY:
    raise ImproperlyConfigured("TMS_AT_API_KEY is required with TMS_SMS_BACKEND=africastalking.")
