"""One settings module, driven by environment variables.

With no variables set, the app runs on its embedded default: SQLite and a broker kept in files
under the data folder, so a worker runs beside the web app with no other service. Production sets
DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis) and SECRET_KEY.
"""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from scoring import bundled

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value is None or value == "" else int(value)


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Importing the settings writes nothing: ``curation.first_start`` makes the folders and the
# embedded default's secret key when the app first starts (runapp, or a management command).
DATA_DIR = Path(os.environ.get("FACE_CURATION_DATA_DIR", BASE_DIR / "var")).resolve()
SECRET_KEY_FILE = DATA_DIR / "secret_key"

PRODUCTION = envbool("PRODUCTION", False)
DEBUG = envbool("DEBUG", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG cannot be on when PRODUCTION=1: unset one of them")


def _secret_key() -> str:
    """Production must set SECRET_KEY. The embedded default uses the key its first start kept in
    the data folder; before there is one, a key for this process only (nothing it signs, such
    as a session, outlives the process)."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when PRODUCTION=1")
    try:
        return SECRET_KEY_FILE.read_text().strip()
    except FileNotFoundError:
        return secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

# HTTPS. In production every one of these is on unless turned off; behind a proxy that ends TLS,
# SECURE_PROXY_SSL_HEADER names the header it sets, e.g. "HTTP_X_FORWARDED_PROTO,https".
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", PRODUCTION)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", PRODUCTION)
_proxy_header = envlist("SECURE_PROXY_SSL_HEADER", "")
if _proxy_header and len(_proxy_header) != 2:
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER is HEADER,VALUE, e.g. HTTP_X_FORWARDED_PROTO,https"
    )
SECURE_PROXY_SSL_HEADER = tuple(_proxy_header) or None

INSTALLED_APPS = [
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
    "django_htmx",
    "curation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "curation.accounts.middleware.LoginRequiredExceptApi",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "curation.urls"
WSGI_APPLICATION = "curation.wsgi.application"

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
                "curation.accounts.context.roles",
            ],
        },
    },
]

# The embedded default: a SQLite file in the data folder, migrated on first use by the commands.
EMBEDDED_DATABASE = "DATABASE_URL" not in os.environ
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 0),
    )
}
# PostgreSQL's JIT compiles the plans its estimates call costly: it cost 0.2–0.45 s a statement
# here (more than most pages take in all), and saved nothing on the aggregates. Off for the app's
# connections, after what PGOPTIONS sets (which an explicit ``options`` would otherwise replace).
POSTGRESQL_OPTIONS = {"options": f"{os.environ.get('PGOPTIONS', '')} -c jit=off".strip()}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["OPTIONS"] = POSTGRESQL_OPTIONS
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web app read while the worker writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
# Optional: a read replica of the primary for the evaluation, which reads much and writes
# nothing. GETs under REPLICA_READ_PATHS read from it; every write and every other read goes to
# the primary (curation.replicas).
REPLICA_READ_PATHS = envlist("REPLICA_READ_PATHS", "/evaluation/,/api/tables/")
if replica_url := os.environ.get("DATABASE_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        replica_url, conn_max_age=envint("DATABASE_CONN_MAX_AGE", 0)
    ) | {"TEST": {"MIRROR": "default"}, "OPTIONS": POSTGRESQL_OPTIONS}
    DATABASE_ROUTERS = ["curation.replicas.ReplicaRouter"]
    MIDDLEWARE.append("curation.replicas.replica_reads_middleware")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
CSRF_FAILURE_VIEW = "curation.accounts.views.csrf_failure"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", DATA_DIR / "media")).resolve()
# Media (frames, videos, thumbnails, headshots, model files) live under MEDIA_ROOT, or, with
# MEDIA_BUCKET, in an S3-compatible bucket shared by every machine (curation/media.py). The keys
# default to boto3's own (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, a profile, a role).
if media_bucket := os.environ.get("MEDIA_BUCKET"):
    STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": media_bucket,
                "endpoint_url": os.environ.get("MEDIA_ENDPOINT_URL") or None,
                "region_name": os.environ.get("MEDIA_REGION") or None,
                "access_key": os.environ.get("MEDIA_ACCESS_KEY_ID") or None,
                "secret_key": os.environ.get("MEDIA_SECRET_ACCESS_KEY") or None,
                "location": os.environ.get("MEDIA_PREFIX", "").strip("/"),
                # As on a file system: a name taken gets a suffix, nothing is overwritten.
                "file_overwrite": False,
            },
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

# Uploads: the admin's zip import. Bigger files are refused with a one-line error.
MAX_UPLOAD_BYTES = envint("MAX_UPLOAD_BYTES", 2 * 1024**3)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024**2

# Import limits: anything over them is rejected before it is decoded or extracted.
IMPORT_MAX_IMAGE_PIXELS = envint("IMPORT_MAX_IMAGE_PIXELS", 40_000_000)
IMPORT_MAX_IMAGE_BYTES = envint("IMPORT_MAX_IMAGE_BYTES", 50 * 1024**2)
IMPORT_MAX_ZIP_ENTRIES = envint("IMPORT_MAX_ZIP_ENTRIES", 100_000)
IMPORT_MAX_ZIP_BYTES = envint("IMPORT_MAX_ZIP_BYTES", 20 * 1024**3)
IMPORT_BATCH_SIZE = envint("IMPORT_BATCH_SIZE", 32)
IMPORT_MIN_CONFIDENCE = float(os.environ.get("IMPORT_MIN_CONFIDENCE", "0.9"))
# Video titles: every VIDEO_EVERY-th frame is read; larger or longer videos are refused.
VIDEO_EVERY = envint("VIDEO_EVERY", 2)
VIDEO_BATCH_SIZE = envint("VIDEO_BATCH_SIZE", 16)
VIDEO_MAX_PIXELS = envint("VIDEO_MAX_PIXELS", 1920 * 1088)
VIDEO_MAX_SECONDS = envint("VIDEO_MAX_SECONDS", 4 * 3600)
VIDEO_MAX_BYTES = envint("VIDEO_MAX_BYTES", 20 * 1024**3)

# Scoring models. By default the ones shipped in scoring/weights: the FSA-Net pair for pose and
# LightQNet for the learned face quality. POSE_MODEL=landmarks takes pose from the MTCNN landmarks
# instead. A configured file that is missing or malformed stops the app and the worker at start.
POSE_MODEL = os.environ.get("POSE_MODEL", "fsanet")
POSE_MODEL_PATHS = envlist("POSE_MODEL_PATHS", "") or [str(p) for p in bundled.FSANET_MODELS]
FIQA_MODEL_PATH = os.environ.get("FIQA_MODEL_PATH", "") or str(bundled.LIGHTQNET_MODEL)
# The FaceQNet selector first drops faces failing these of its guard stages (roll, exposure,
# sharpness, artifacts: what the learned quality cannot see); "none": the plain best fiqa.
FIQA_SELECTOR_GUARDS = envlist("FIQA_SELECTOR_GUARDS", "roll,exposure,sharpness,artifacts")
# A quality model labels every measured face and fits its forest on at most this many of them
# (a sample stratified by label, across titles).
QUALITY_TRAIN_MAX_FACES = envint("QUALITY_TRAIN_MAX_FACES", 100_000)
SCORING_CHUNK_SIZE = envint("SCORING_CHUNK_SIZE", 64)
# Every worker checks this often for unfinished runs that made no progress for SCORING_STALL_SECONDS
# (their messages lost, say by a broker restarted without persistence) and sends their missing
# work again. Keep the stall time above the longest single task (training a model on 100,000
# faces takes about 2 minutes on 2 cores).
SCORING_STALL_SECONDS = envint("SCORING_STALL_SECONDS", 600)
SCORING_STALL_CHECK_SECONDS = envint("SCORING_STALL_CHECK_SECONDS", 60)

# Celery. Embedded default: a broker kept in files, no service needed. Production: Redis.
_BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://localhost//")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "control_folder": str(_BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # An unacknowledged task (its worker died) goes back to the queue after the visibility
    # timeout; keep it above the longest task. Scan for such tasks every 10 s.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600),
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = "cpu"
# How long an enqueue may wait on an unreachable broker before the admin is told.
CELERY_BROKER_CONNECTION_TIMEOUT = envint("CELERY_BROKER_CONNECTION_TIMEOUT", 3)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["curation.api.permissions.IsCurationAdmin"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Face Curation API",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # The interactive docs' scripts and styles are served from the app, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status": titles have theirs, imports and runs share one set.
    "ENUM_NAME_OVERRIDES": {
        "TitleStatusEnum": "curation.models.Title.Status",
        "JobStatusEnum": "curation.models.ScoringRun.Status",
    },
}

# The cache: login throttling counts failed attempts in it. Per process by default; with several
# web processes set CACHE_URL (e.g. redis://127.0.0.1:6379/1) so that they share the counts.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": cache_url}
        if (cache_url := os.environ.get("CACHE_URL"))
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# After this many failed logins for one user name, or from one address, within the window,
# further attempts are refused until it has passed.
LOGIN_FAILURES_ALLOWED = envint("LOGIN_FAILURES_ALLOWED", 5)
LOGIN_FAILURE_WINDOW_SECONDS = envint("LOGIN_FAILURE_WINDOW_SECONDS", 900)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"forbidden": {"()": "curation.errors.ForbiddenWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["forbidden"]}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
