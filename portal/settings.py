"""Django settings, read from the environment (see README.md for the variables)."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django_stubs_ext
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from portal.env import (
    dev_secret,
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_secret,
    env_str,
)

# Lets admin and form classes be subscripted at run time, as the type stubs require.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PORTAL_VAR_DIR", str(BASE_DIR / "var")))

PORTAL_ENV = env_choice("PORTAL_ENV", ("development", "production"), "development")
PRODUCTION = PORTAL_ENV == "production"


def _secret(name: str) -> str:
    value = env_secret(name)
    if value:
        return value
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} (or {name}_FILE) must be set in production")
    return dev_secret(VAR_DIR / "dev-secrets.json", name)


SECRET_KEY = _secret("DJANGO_SECRET_KEY")
# Keys the hash of identity-card numbers; changing it makes every stored hash unmatchable.
ID_HASH_KEY = _secret("PORTAL_ID_HASH_KEY")
# Encrypts provider API keys at rest; comma-separated to rotate (the first one encrypts).
PORTAL_AI_KEY = _secret("PORTAL_AI_KEY")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set in production")
# Debug pages (every URL pattern on a 404, settings on a 500) only on a machine of one's own:
# a server that answers to another name is a deployment, whatever PORTAL_ENV says, unless
# DJANGO_DEBUG asks for them.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1", "testserver"})
DEBUG = env_bool("DJANGO_DEBUG", default=not PRODUCTION and set(ALLOWED_HOSTS) <= LOCAL_HOSTS)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Number of reverse proxies in front of us whose X-Forwarded-For we trust.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

INSTALLED_APPS = [
    "portal",
    "portal.ai.apps.AIConfig",
    "knowledge",
    "writer",
    "imaging",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal.lockout.AxesConfig",  # django-axes, named in Chinese
]

MIDDLEWARE = [
    "portal.overload.OverloadMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.StaticFilesMiddleware",
    "portal.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
        },
    },
]

# Database: SQLite as the zero-setup default, anything dj-database-url reads otherwise.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # Under ASGI every request runs in a thread of its own; a pool bounds the connections
        # and makes a burst of requests queue for one instead of failing. With health checks on,
        # Django has the pool check each connection it hands out.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env_int("DATABASE_POOL_SIZE", 16, minimum=1),
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 10, minimum=1),
        }
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "portal.sqlite3"),
            "OPTIONS": {
                # The web server and the worker write at once: wait for the lock, take it early.
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Overload (portal/overload.py): a refused request is told to come back after this many seconds
# (spread over twice as long). Enrolment in the beta: this many at work at once per web process
# (they go to the database together, in batches of one transaction each: portal.api; a batch costs
# a few round trips whatever its size), the others waiting on the event loop up to
# ENROL_WAIT_SECONDS before their 503.
OVERLOAD_RETRY_AFTER_SECONDS = env_int("OVERLOAD_RETRY_AFTER_SECONDS", 3, minimum=1)
ENROL_CONCURRENCY = env_int("ENROL_CONCURRENCY", 128, minimum=1)
ENROL_WAIT_SECONDS = env_int("ENROL_WAIT_SECONDS", 10, minimum=1)
# Ask: a web process prepares two questions at once (knowledge/api/ask.py); the others wait
# their turn in order, up to ASK_WAIT_SECONDS before their 503.
ASK_WAIT_SECONDS = env_int("ASK_WAIT_SECONDS", 10, minimum=1)
# At most this many HTTP requests at work in one web process (portal.entrance); the next is
# answered 503 busy at once. Well above what Ask's streams hold open; a rush far beyond what the
# process serves in a few seconds gets its clear answer at once instead of waiting minutes.
WEB_MAX_IN_FLIGHT = env_int("WEB_MAX_IN_FLIGHT", 1500, minimum=1)

REDIS_URL = env_str("REDIS_URL")
if PRODUCTION and not REDIS_URL:
    # Circuit breakers, rate limits, the sensitive-word list and sessions must be shared by all
    # web and worker processes; a per-process cache would let each go its own way.
    raise ImproperlyConfigured("REDIS_URL must be set in production")
if REDIS_URL:
    CACHES = {
        "default": {
            # One connection pool per process (Django would open one per request under ASGI).
            "BACKEND": "portal.rediscache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portal",
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    # Without Redis (make run's default) the web processes and the worker still share one
    # cache, in files: the rate limits, the circuit breakers and the sensitive-word list's
    # version would otherwise go each process its own way.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Accounts
AUTH_USER_MODEL = "portal.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Idle timeout: the session ends after this long without a request.
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_MINUTES", 30, minimum=1) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True

# Lock-out after repeated failed logins, per user name and address.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "portal.audit.client_ip"
AXES_VERBOSE = False

# API tokens expire; a new one is issued at the next POST /api/v1/auth/token/.
API_TOKEN_TTL = timedelta(hours=env_int("API_TOKEN_TTL_HOURS", 24 * 7, minimum=1))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: an anonymous API client then gets 401 with a WWW-Authenticate header.
        "portal.auth.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Views that name a throttle_scope are rate-limited per user (cache-backed).
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.ScopedRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "knowledge_search": env_str("KNOWLEDGE_SEARCH_RATE", "60/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "portal.api.exception_handler",
}
# Questions to Ask per member, page and API alike (DRF rate syntax).
ASK_RATE = env_str("ASK_RATE", "10/min")
SPECTACULAR_SETTINGS = {
    "TITLE": "工会AI门户 API",
    "DESCRIPTION": "Ask, Write and Draw services of the union portal, and the closed beta.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "knowledge.api.ask.document_ask",
    ],
    "ENUM_NAME_OVERRIDES": {
        "EnrolmentStatusEnum": "portal.models.EnrolmentStatus",
        "DocumentStatusEnum": "knowledge.models.DocumentStatus",
        "DocumentKindEnum": "knowledge.models.DocumentKind",
        "FaqStatusEnum": "knowledge.models.FaqStatus",
        "LexiconKindEnum": "knowledge.models.LexiconKind",
        "DraftStatusEnum": "writer.models.DraftStatus",
        "NewDocumentStatusEnum": [("draft", "草稿"), ("review", "待审核"), ("published", "已发布")],
        "ErrorCodeEnum": "portal.serializers.ERROR_CODE_CHOICES",
    },
}

# Celery: Redis when REDIS_URL is set, otherwise kombu's filesystem transport (no server).
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 3600}
else:
    _broker_dir = VAR_DIR / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }

# Periodic jobs, run by `celery -A portal beat` (`manage.py serve` runs it inside its worker).
# Celery's timezone is Asia/Shanghai (portal/celery.py): the times are local.
CELERY_BEAT_SCHEDULE = {
    "refresh-question-analytics": {
        "task": "knowledge.tasks.refresh_question_analytics",
        "schedule": crontab(hour=3, minute=10),
    },
    "close-stale-answers": {
        "task": "knowledge.tasks.close_stale_answers",
        "schedule": crontab(minute="*/15"),
    },
    "sweep-accuracy-runs": {
        "task": "knowledge.tasks.sweep_accuracy_runs",
        "schedule": crontab(minute="*/5"),
    },
    # Sections and PDFs a dead worker left (portal/jobs.py explains why late acks are not enough).
    "writer-sweep-sections": {"task": "writer.tasks.sweep_sections", "schedule": 30.0},
    "writer-sweep-exports": {"task": "writer.tasks.sweep_exports", "schedule": 60.0},
    # Image requests a dead worker left running, or whose message was lost (imaging/tasks.py).
    "sweep-image-requests": {
        "task": "imaging.tasks.sweep_image_requests",
        "schedule": float(env_int("IMAGING_SWEEP_SECONDS", 30, minimum=1)),
    },
}
# A section whose worker has not beaten its heart for this long is put back in the queue (the
# heartbeat runs every 5 s); one nobody took for WRITER_UNCLAIMED_SECONDS is sent again.
WRITER_STALE_SECONDS = env_int("WRITER_STALE_SECONDS", 30, minimum=10)
WRITER_UNCLAIMED_SECONDS = env_int("WRITER_UNCLAIMED_SECONDS", 120, minimum=10)

# Internationalisation: Chinese for users, stored in UTC, shown in Asia/Shanghai.
LANGUAGE_CODE = "zh-hans"
# Chinese for what our dependencies ship without it (django-axes' admin).
LOCALE_PATHS = [BASE_DIR / "portal" / "locale"]
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"
# Files people made (images, exports): the local MEDIA_ROOT, or an S3-compatible object store
# (MinIO, Tencent COS, Aliyun OSS) through django-storages when PORTAL_S3_BUCKET is set, so web
# and workers on several machines share them. Never served at a public URL (portal/files.py).
PORTAL_S3_BUCKET = env_str("PORTAL_S3_BUCKET")
_default_storage: dict[str, object] = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
if PORTAL_S3_BUCKET:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": PORTAL_S3_BUCKET,
            "endpoint_url": env_str("PORTAL_S3_ENDPOINT_URL") or None,
            "region_name": env_str("PORTAL_S3_REGION") or None,
            "access_key": env_secret("PORTAL_S3_ACCESS_KEY") or None,
            "secret_key": env_secret("PORTAL_S3_SECRET_KEY") or None,
            "location": env_str("PORTAL_S3_PREFIX", "portal"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            "addressing_style": env_str("PORTAL_S3_ADDRESSING", "virtual"),
        },
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# Outside production, serve static files straight from the source folders.
WHITENOISE_USE_FINDERS = not PRODUCTION

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
ROSTER_MAX_BYTES = env_int("ROSTER_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)

X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # An overload is one WARNING line (portal.overload), not an ERROR with a traceback.
    # A refusal (4xx) is one WARNING line, without the traceback of the exception behind it.
    "filters": {
        "quiet_overload": {"()": "portal.overload.QuietOverloadFilter"},
        "quiet_refusal": {"()": "portal.errors.RefusalWithoutTraceback"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own logging config adds a console handler of its own; use ours only.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.request": {"filters": ["quiet_overload", "quiet_refusal"]},
        "axes": {"level": "WARNING"},
        # haystack logs every component run at INFO.
        "haystack": {"level": "WARNING"},
        # The HTTP clients log every request at INFO; the meter records model calls.
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
    },
}

# haystack-ai would send usage telemetry to an outside server: never from an intranet portal.
os.environ["HAYSTACK_TELEMETRY_ENABLED"] = "False"

# Knowledge base
# The postings index carries INCLUDE columns for PostgreSQL; SQLite ignores them, which is fine.
SILENCED_SYSTEM_CHECKS = ["models.W040"]
KNOWLEDGE_CORPUS_DIR = env_str("KNOWLEDGE_CORPUS_DIR", "")
# Uploads past this size are cut off while they arrive, not after they are on disk.
KNOWLEDGE_MAX_UPLOAD_MB = env_int("KNOWLEDGE_MAX_UPLOAD_MB", 20, minimum=1)
FILE_UPLOAD_HANDLERS = [
    "knowledge.uploads.SizeLimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Ask the chat model (feature ask) to restate each question in formal terms before retrieval.
KNOWLEDGE_QUERY_REWRITE = env_bool("KNOWLEDGE_QUERY_REWRITE", False)
# Up to this many indexed segments, each process keeps the posting lists in memory
# (knowledge/memindex.py); 0 always reads them from the database.
KNOWLEDGE_MEMORY_INDEX_SEGMENTS = env_int("KNOWLEDGE_MEMORY_INDEX_SEGMENTS", 5000, minimum=0)
# When the FAQ or the lexicon change, each process learns the word associations and the
# translation model again (about a second for the seed FAQ) in a thread of its own, answering
# with the ones learned before meanwhile; false: the next search learns them, and waits.
KNOWLEDGE_RELEARN_IN_BACKGROUND = env_bool("KNOWLEDGE_RELEARN_IN_BACKGROUND", True)

# Model providers (portal/ai): circuit breaker, image limits, how long routing is cached.
AI_BREAKER_FAILURES = env_int("AI_BREAKER_FAILURES", 3, minimum=1)
AI_BREAKER_OPEN_SECONDS = env_int("AI_BREAKER_OPEN_SECONDS", 30, minimum=1)
AI_RETRY_AFTER_MAX_SECONDS = env_int("AI_RETRY_AFTER_MAX_SECONDS", 10, minimum=0)
AI_MAX_IMAGE_BYTES = env_int("AI_MAX_IMAGE_BYTES", 20 * 1024 * 1024, minimum=1024)
AI_ROUTE_CACHE_SECONDS = env_int("AI_ROUTE_CACHE_SECONDS", 5, minimum=0)
AI_RETRY_BACKOFF_MS = env_int("AI_RETRY_BACKOFF_MS", 500, minimum=0)
# A streamed answer that trickles on past this is cut off (a stalled one hits the read timeout).
AI_MAX_ANSWER_SECONDS = env_int("AI_MAX_ANSWER_SECONDS", 300, minimum=1)
# No new attempt (retry or fallback) starts after this: inside Celery's 300 s soft limit.
AI_CALL_DEADLINE_SECONDS = env_int("AI_CALL_DEADLINE_SECONDS", 240, minimum=1)

# Demo data
DEMO_PASSWORD = env_secret("DEMO_PASSWORD")

# Draw (imaging/): AI images per member per Asia/Shanghai day (the model's cost), and apart from
# them the template layouts made without a model (Pillow only, ~0.15 s each: a bound against
# abuse, not a cost); the job's heartbeat, when the sweep takes a silent job back (stale) or
# re-sends an unclaimed one; attempts and backoff for provider failures; the task's own time
# limit (the provider's timeout comes first).
IMAGING_DAILY_QUOTA = env_int("IMAGING_DAILY_QUOTA", 20, minimum=0)
IMAGING_DAILY_LAYOUTS = env_int("IMAGING_DAILY_LAYOUTS", 100, minimum=0)
IMAGING_HEARTBEAT_SECONDS = env_int("IMAGING_HEARTBEAT_SECONDS", 10, minimum=1)
IMAGING_STALE_SECONDS = env_int("IMAGING_STALE_SECONDS", 60, minimum=2)
IMAGING_UNCLAIMED_SECONDS = env_int("IMAGING_UNCLAIMED_SECONDS", 600, minimum=2)
IMAGING_MAX_ATTEMPTS = env_int("IMAGING_MAX_ATTEMPTS", 3, minimum=1)
IMAGING_RETRY_BACKOFF_SECONDS = env_int("IMAGING_RETRY_BACKOFF_SECONDS", 10, minimum=0)
IMAGING_SOFT_TIME_LIMIT = env_int("IMAGING_SOFT_TIME_LIMIT", 300, minimum=5)
