"""Tokenledger settings: one module, driven by environment variables (see README.md).

`DJANGO_ENV=production` turns on the production checks: it refuses to start without
`SECRET_KEY` and `ALLOWED_HOSTS`, and enables the secure-cookie and HSTS settings that
`manage.py check --deploy` asks for (docs/deploy.md).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("TOKENLEDGER_VAR_DIR", BASE_DIR / "var"))


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool = False) -> bool:
    """`default` when unset or empty; otherwise one of TRUE_WORDS or FALSE_WORDS, in any case.
    Anything else is refused: a typo (`ture`) must not quietly turn a setting off."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if value.lower() in TRUE_WORDS:
        return True
    if value.lower() in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off, got {value!r}"
    )


def env_int(name: str, default: int | None) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or default


def database_from_url(url: str) -> dict[str, object]:
    """A DATABASES entry for `postgres://user:pass@host:port/name?option=value` or for
    `sqlite:///relative/path`, `sqlite:////absolute/path`, `sqlite://:memory:`.

    User, password and host are percent-decoded (a socket directory is written `%2Fvar%2Frun`);
    query options go to the driver (`?sslmode=require`)."""
    parts = urlsplit(url)
    options = dict(parse_qsl(parts.query))
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        try:
            port = parts.port
        except ValueError as exc:
            raise ImproperlyConfigured(f"DATABASE_URL has an invalid port: {exc}") from None
        return {
            # django.db.backends.postgresql, aware of the partitioned logs table.
            "ENGINE": "config.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "tokenledger",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": unquote(parts.hostname or ""),
            "PORT": str(port or ""),
            "CONN_MAX_AGE": env_int("CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
            # JIT compilation costs 20-100 ms on a query the planner overestimates (a range join
            # over the usage rollups, docs/aggregates.md) and buys nothing on this app's short
            # queries. `?options=...` in the URL replaces this.
            "OPTIONS": {"options": "-c jit=off", **options},
        }
    if parts.scheme == "sqlite":
        path = parts.netloc + parts.path
        if not parts.netloc:
            path = path[1:]  # the third slash separates the (empty) host from the path
        return sqlite_database(path or str(VAR_DIR / "tokenledger.sqlite3"))
    raise ImproperlyConfigured(f"DATABASE_URL scheme {parts.scheme!r} is not supported")


def sqlite_database(path: str) -> dict[str, object]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        "OPTIONS": {
            # WAL lets the dashboard read while the gateway writes; IMMEDIATE makes a writing
            # transaction take the write lock up front instead of failing on upgrade.
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA busy_timeout=20000; PRAGMA cache_size=-65536;"
            ),
        },
    }


ENVIRONMENT = os.environ.get("DJANGO_ENV", "development").strip().lower()
PRODUCTION = ENVIRONMENT == "production"
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DJANGO_ENV=production")
    # Developer machines: a key kept under var/ so sessions survive a restart.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_ENV=production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "config.apps.TokenledgerConfig",
    "accounts",
    "logs",
    "usage",
]

MIDDLEWARE = [
    "config.middleware.RequestLogMiddleware",
    # Before the replica routing, which resolves a POST's path to tell a read from a write.
    "config.middleware.TrailingSlashMiddleware",
    "config.db_routers.ReadOnlyRequestMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "usage.middleware.TimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: it turns a login that its backend refused into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "usage.context_processors.layout",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": sqlite_database(str(VAR_DIR / "tokenledger.sqlite3"))}

REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "").strip()
if REPLICA_URL:
    DATABASES["replica"] = database_from_url(REPLICA_URL)
    # In tests the replica is the primary's test database (no replication to wait for).
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["config.db_routers.ReplicaRouter"]
# Bound on each statement of a read-only request on PostgreSQL (0 disables).
READ_STATEMENT_TIMEOUT_MS = env_int("READ_STATEMENT_TIMEOUT_MS", 15000) or 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a password login while the account or the address is locked out (axes).
    # Access tokens never pass through authenticate() (accounts/authentication.py).
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.GatewayUserBackend",
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC") or "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS: list[object] = [BASE_DIR / "static"]
# Front-end packages come from the npm registry (package.json pins them, `npm ci` installs them
# under node_modules/, never committed). Chart.js is served from there at a stable path; when it
# is not installed the templates fall back to the CDN copy (VENDOR_SCRIPTS).
NODE_MODULES_DIR = BASE_DIR / "node_modules"
if (NODE_MODULES_DIR / "chart.js" / "dist").is_dir():
    STATICFILES_DIRS.append(("vendor/chart.js", NODE_MODULES_DIR / "chart.js" / "dist"))
VENDOR_SCRIPTS = {
    # The version must equal package-lock.json's and the hash that of its dist/chart.umd.js
    # (tests/usage/test_assets.py checks both).
    "chart.js": {
        "version": "4.6.1",
        "path": "vendor/chart.js/chart.umd.js",
        "cdn": "https://cdn.jsdelivr.net/npm/chart.js@4.6.1/dist/chart.umd.js",
        "integrity": "sha384-lm7tNiW/3uF4tLujoEeoR94zIODe3hCWqRtW0UgxpQE3QslzOhlD22UqQk1tSBhB",
    },
}
# Outside production WhiteNoise serves straight from the finders, so `runserver` and gunicorn
# work without collectstatic.
WHITENOISE_USE_FINDERS = not PRODUCTION
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# A 1000-event ingest batch is well under this; the ingest view enforces its own 10 MiB cap.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024 + 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.AccessTokenAuthentication",
        "accounts.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only (every client of every family sends JSON), read by orjson: a deeply nested body
    # is a 400, not a RecursionError (accounts/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["accounts.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tokenledger API",
    "DESCRIPTION": (
        "Usage statistics and request logs for LLM API gateways. Speaks the dialects of "
        "new-api (`/api/log/`, `/api/data/`), sub2api (`/api/v1/usage...`), AceData and r9s.ai."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "accounts.schema.request_truths",
    ],
    "ENUM_NAME_OVERRIDES": {
        "NewApiSuccessEnum": "accounts.newapi.SUCCESS_CHOICES",
        "NewApiFailureEnum": "accounts.newapi.FAILURE_CHOICES",
    },
}

# --- Login lockout (django-axes; docs/auth.md, "Login lockout") ---
# A password login is refused once LOGIN_FAILURE_LIMIT failures were counted for the account
# (from any address) or from the address (for any account), until LOGIN_LOCKOUT_MINUTES pass
# without another counted failure, or an operator runs `manage.py unlock_login`. 0 minutes:
# locked until unlocked.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5) or 0
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT must be at least 1")
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15) or 0
if LOGIN_LOCKOUT_MINUTES < 0:
    raise ImproperlyConfigured("LOGIN_LOCKOUT_MINUTES must be 0 (until unlocked) or more")
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES) if LOGIN_LOCKOUT_MINUTES else None
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts made while locked are refused without being counted, so the lock ends
# LOGIN_LOCKOUT_MINUTES after the failure that caused it, even for an owner who keeps trying.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# The login page and the admin's login page say why (accounts/forms.py); this sets the 429.
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"
# Failures are what axes is for here; successful logins are in the request log already.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False  # no banner on every start; failures are still logged as warnings


def client_address_settings(trusted_proxies: int) -> dict[str, object]:
    """The settings by which axes (through django-ipware) finds the client's address
    (docs/deploy.md, "Client addresses").

    Without a proxy it is the socket's peer. Behind `trusted_proxies` proxies that each append
    the address they received from to X-Forwarded-For (nginx's $proxy_add_x_forwarded_for), it
    is the entry the first of them appended: the `trusted_proxies`-th from the right. Entries
    further left came from the client and are not believed."""
    if not trusted_proxies:
        return {
            "AXES_IPWARE_META_PRECEDENCE_ORDER": ("REMOTE_ADDR",),
            "AXES_IPWARE_PROXY_COUNT": None,
            "IPWARE_STRICT": True,
        }
    return {
        "AXES_IPWARE_META_PRECEDENCE_ORDER": ("HTTP_X_FORWARDED_FOR",),
        # django-ipware counts the proxies listed in the header: all but the last one, whose
        # address is the socket's peer.
        "AXES_IPWARE_PROXY_COUNT": trusted_proxies - 1,
        # Not strict: entries the client sent make the header longer; the position is fixed.
        "IPWARE_STRICT": False,
    }


TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0) or 0
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 (no proxy) or more")
# Sets the three settings it names (tests use the same function to act as behind a proxy).
globals().update(client_address_settings(TRUSTED_PROXY_COUNT))

# --- Browser security headers (docs/deploy.md, "Security headers") ---
# Content-Security-Policy (django-csp). Scripts and styles come from this origin only; an inline
# <script> must carry the response's nonce (`nonce="{{ request.csp_nonce }}"`), and no template
# has one today. The only other script allowed is the exact CDN file of each vendor fallback
# (VENDOR_SCRIPTS; app.js loads it with its SRI hash when the local copy fails). The favicon is a
# data: URI. The API docs pages relax this for their bundles (config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, *(spec["cdn"] for spec in VENDOR_SCRIPTS.values())],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Permissions-Policy (django-permissions-policy, which refuses unknown feature names): every
# powerful feature off, for this origin and any frame. The copy buttons need clipboard-write,
# which keeps its default (this origin).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "bluetooth",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

# Business settings (API.md section 8).
QUOTA_PER_UNIT = env_int("QUOTA_PER_UNIT", 500000) or 0
if QUOTA_PER_UNIT < 1:
    raise ImproperlyConfigured("QUOTA_PER_UNIT must be at least 1 (quota per unit of currency)")
LOG_RETENTION_DAYS = env_int("LOG_RETENTION_DAYS", None)
USAGE_RETENTION_DAYS = env_int("USAGE_RETENTION_DAYS", None)


def log_partition_days_default(retention_days: int | None) -> int:
    """Daily partitions when retention keeps at most 60 days, weekly up to 400 days, else (and
    when logs are kept forever) 28 days: about 60 partitions, or 13 a year when kept forever,
    because every all-time query plans and locks each one (docs/partitioning.md measures it)."""
    if retention_days and retention_days <= 60:
        return 1
    if retention_days and retention_days <= 400:
        return 7
    return 28


# PostgreSQL: width of a `logs` time partition in days (docs/partitioning.md).
LOG_PARTITION_DAYS = env_int("LOG_PARTITION_DAYS", None) or log_partition_days_default(
    LOG_RETENTION_DAYS
)
if LOG_PARTITION_DAYS < 1:
    raise ImproperlyConfigured("LOG_PARTITION_DAYS must be at least 1")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "config.middleware.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"handlers": [], "propagate": False},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "tokenledger.request": {
            "handlers": ["console"],
            "level": "INFO" if env_bool("REQUEST_LOG", True) else "WARNING",
            "propagate": False,
        },
    },
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000) or 0
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # On by default as in cookiecutter-django (check --deploy asks for it); the header only
    # permits a submission to the browsers' preload list, it does not submit anything.
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
