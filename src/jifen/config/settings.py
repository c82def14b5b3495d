"""Jifen settings: one module, driven by environment variables.

Defaults are safe for production (DEBUG off, secure cookies when DEBUG is off, no wildcard
hosts); `make demo` and the tests set the variables they need. Jifen-specific settings are
prefixed `JIFEN_` and each has an environment variable of the same name.
"""

import os
import sys
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parents[3]  # the repository (src/jifen/config/ → root)
PACKAGE_DIR = Path(__file__).resolve().parents[1]
VAR_DIR = Path(os.environ.get("JIFEN_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG", False)
TESTING = env_bool("JIFEN_TESTING", "pytest" in sys.modules)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY and (VAR_DIR / "secret_key").is_file():
    # One-machine mode: `make demo` generated this key, so `jifen …` commands work beside it.
    SECRET_KEY = (VAR_DIR / "secret_key").read_text().strip()
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "insecure-development-key-do-not-use-in-production-" + "x" * 20
    else:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 for development).")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # serves the API docs page's assets from the package, not a CDN
    "allauth",
    "allauth.account",
    "jifen.core",
    "jifen.members",
    "jifen.ledger",
    "jifen.web",
    "jifen.backoffice",
    "jifen.demo",
    "jifen.integrations",
    "jifen.rules",
    "jifen.tiers",
    "jifen.engagement",
    "jifen.referrals",
    "jifen.catalog",
    "jifen.orders",
    "jifen.payments",
    "jifen.vouchers",
    "jifen.shipping",
    "jifen.aftersales",
    "jifen.reviews",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # /api/ requests with a bearer token continue through API_BEARER_MIDDLEWARE only.
    "jifen.core.middleware.ApiBearerShortcut",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Bearer tokens for /api/ (sets request.user), then Idempotency-Key, scoped to that user.
    "jifen.members.middleware.BearerTokenMiddleware",
    "jifen.integrations.middleware.IntegrationSignatureMiddleware",
    "jifen.core.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]
# The chain after ApiBearerShortcut for /api/ requests carrying `Authorization: Bearer`:
# MIDDLEWARE without what such a request never uses (session, CSRF, messages, htmx,
# allauth). A subsequence of MIDDLEWARE in the same order (checked at start-up).
API_BEARER_MIDDLEWARE = [
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "jifen.members.middleware.BearerTokenMiddleware",
    "jifen.integrations.middleware.IntegrationSignatureMiddleware",
    "jifen.core.idempotency.IdempotencyMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "jifen.config.urls"
WSGI_APPLICATION = "jifen.config.wsgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite under var/ is the embedded default; DATABASE_URL=postgres://… for production and CI.
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'jifen.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the one-machine mode serve concurrent requests; IMMEDIATE
    # transactions take the write lock up front, so two writers queue instead of deadlocking.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that needs no round trip for an idle connection.
    DATABASES["default"]["ENGINE"] = "jifen.core.db.postgresql"
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "jifen.core.db.postgresql"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, rate limits, Celery broker (all optional in embedded mode) ---------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("JIFEN_CACHE_PREFIX", "jifen"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL  # tasks run inline when no broker is configured
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
CELERY_BEAT_SCHEDULE = {
    "points-expire": {"task": "jifen.ledger.tasks.points_expire_task", "schedule": 3600.0},
    "points-mature": {"task": "jifen.ledger.tasks.points_mature_task", "schedule": 600.0},
    "stock-release-expired": {
        "task": "jifen.catalog.tasks.stock_release_expired_task",
        "schedule": 60.0,
    },
    "rules-cap-counters-prune": {
        "task": "jifen.rules.tasks.cap_counters_prune_task",
        "schedule": crontab(hour=3, minute=10),
    },
    # Notices, then reviews, then birthday gifts, just after the business day begins.
    "tiers-daily": {
        "task": "jifen.tiers.tasks.tiers_daily_task",
        "schedule": crontab(hour=0, minute=30),
    },
    # The mall: unpaid orders time out, shipped ones complete by themselves, refunds that a
    # gateway left pending are retried.
    "orders-expire-unpaid": {
        "task": "jifen.orders.tasks.orders_expire_unpaid_task",
        "schedule": 60.0,
    },
    "orders-auto-complete": {
        "task": "jifen.orders.tasks.orders_auto_complete_task",
        "schedule": 3600.0,
    },
    "integration-holds-expire": {
        "task": "jifen.integrations.tasks.integration_holds_expire_task",
        "schedule": 60.0,
    },
    "vouchers-expire": {"task": "jifen.vouchers.tasks.vouchers_expire_task", "schedule": 3600.0},
    "orders-cash-refunds-retry": {
        "task": "jifen.orders.tasks.orders_cash_refunds_retry_task",
        "schedule": 600.0,
    },
    "aftersales-cash-refunds-sync": {
        "task": "jifen.aftersales.tasks.aftersales_cash_refunds_sync_task",
        "schedule": 600.0,
    },
    "payments-refunds-retry": {
        "task": "jifen.payments.tasks.refunds_retry_pending_task",
        "schedule": 600.0,
    },
}

# A batch of 1,000 integration events with their lines fits in 10 MiB.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

# --- Auth -----------------------------------------------------------------------------------
AUTH_USER_MODEL = "members.User"
AUTHENTICATION_BACKENDS = [
    "jifen.members.backends.LoginBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "account_login"

# --- i18n and time --------------------------------------------------------------------------
LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or TESTING

# --- Security (production defaults; DEBUG relaxes what needs HTTPS) -------------------------
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not (DEBUG or TESTING))
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not (DEBUG or TESTING))
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not (DEBUG or TESTING))
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# --- django-allauth -------------------------------------------------------------------------
ACCOUNT_ADAPTER = "jifen.members.adapters.AccountAdapter"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email", "phone"}
# Members register with a phone or an e-mail: the signup form (jifen.web.forms.SignupForm)
# makes the phone optional again and requires one of the two.
ACCOUNT_SIGNUP_FIELDS = ["phone*", "email", "password1*", "password2*"]
ACCOUNT_FORMS = {"login": "jifen.web.forms.LoginForm", "signup": "jifen.web.forms.SignupForm"}
ACCOUNT_PHONE_VERIFICATION_ENABLED = False
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
# Six digits, as members expect from an SMS; allauth allows 3 tries per code and rate-limits
# requests for codes.
ACCOUNT_LOGIN_BY_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_ON_PASSWORD_RESET = True
ACCOUNT_LOGOUT_ON_GET = False
# Registration says plainly "this phone is already registered" (the sign-up page cannot hide
# it without mandatory verification), so the other forms need not pretend otherwise.
ACCOUNT_PREVENT_ENUMERATION = False
# The member site's own templates (jifen/web/templates/account/*.jifen.html): "jifen.web"
# comes after "allauth" in INSTALLED_APPS, so same-named templates would lose to allauth's.
ACCOUNT_TEMPLATE_EXTENSION = "jifen.html"
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "login": "30/m/ip",
}
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Jifen <no-reply@jifen.local>")
# SMTP, for EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)

# --- Jifen ----------------------------------------------------------------------------------
# Where one-time codes go: a dotted path to a class with send(recipient, message).
JIFEN_CODE_SENDER = os.environ.get("JIFEN_CODE_SENDER", "jifen.members.senders.ConsoleSender")
# Expiry policy: "days:N" (N days after earning) or "year_end:N" (end of the Nth calendar
# year, counting the year of earning as the first), or "never".
JIFEN_EXPIRY_POLICY = os.environ.get("JIFEN_EXPIRY_POLICY", "year_end:2")
JIFEN_TRANSFER_MIN = env_int("JIFEN_TRANSFER_MIN", 10)
JIFEN_TRANSFER_DAILY_LIMIT = env_int("JIFEN_TRANSFER_DAILY_LIMIT", 5000)
JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD = env_int("JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD", 10000)
JIFEN_POINTS_MAX_PER_POSTING = env_int("JIFEN_POINTS_MAX_PER_POSTING", 100_000_000)
# What 1 point is worth, for the liability shown in the back-office (CNY by default).
JIFEN_CURRENCY = os.environ.get("JIFEN_CURRENCY", "CNY")
JIFEN_POINT_VALUE = os.environ.get("JIFEN_POINT_VALUE", "0.01")
JIFEN_API_TOKEN_DAYS = env_int("JIFEN_API_TOKEN_DAYS", 30)
# Token lookups remembered per database connection, forgotten on any change (ADR 0007); 0 = off.
JIFEN_TOKEN_CACHE_SECONDS = env_int("JIFEN_TOKEN_CACHE_SECONDS", 60)
JIFEN_REGISTRATION_CODE_REQUIRED = env_bool("JIFEN_REGISTRATION_CODE_REQUIRED", not DEBUG)
JIFEN_LOGIN_MAX_FAILURES_PER_ACCOUNT = env_int("JIFEN_LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
JIFEN_LOGIN_MAX_FAILURES_PER_IP = env_int("JIFEN_LOGIN_MAX_FAILURES_PER_IP", 30)
JIFEN_LOGIN_LOCK_SECONDS = env_int("JIFEN_LOGIN_LOCK_SECONDS", 900)
JIFEN_SERVE_MEDIA = env_bool("JIFEN_SERVE_MEDIA", False)
# Integration API: the key client signing secrets are derived from (default: SECRET_KEY),
# and what a refund does when the points it takes back were spent: "debt" or "available".
JIFEN_INTEGRATION_KEY = os.environ.get("JIFEN_INTEGRATION_KEY", "")
JIFEN_REFUND_SHORTFALL = os.environ.get("JIFEN_REFUND_SHORTFALL", "debt")
# Points as cash in the enterprise's own checkout (docs/integration.md §5): 100 积分 = ¥1, at
# most 20% of an order, at least 100 points per use; a hold lives 30 minutes unless captured.
JIFEN_POINTS_PER_YUAN = env_int("JIFEN_POINTS_PER_YUAN", 100)
JIFEN_POINTS_CASH_MAX_SHARE = os.environ.get("JIFEN_POINTS_CASH_MAX_SHARE", "0.20")
JIFEN_POINTS_CASH_MIN_POINTS = env_int("JIFEN_POINTS_CASH_MIN_POINTS", 100)
JIFEN_POINTS_CASH_HOLD_MINUTES = env_int("JIFEN_POINTS_CASH_HOLD_MINUTES", 30)
# Tiers: rolling qualification window, time to the next review, notice before a downgrade,
# and the downgrade policy ("one_level" or "qualified").
JIFEN_TIER_WINDOW_MONTHS = env_int("JIFEN_TIER_WINDOW_MONTHS", 12)
JIFEN_TIER_REVIEW_MONTHS = env_int("JIFEN_TIER_REVIEW_MONTHS", 12)
JIFEN_TIER_NOTICE_DAYS = env_int("JIFEN_TIER_NOTICE_DAYS", 30)
JIFEN_TIER_DOWNGRADE_POLICY = os.environ.get("JIFEN_TIER_DOWNGRADE_POLICY", "one_level")
# Referrals: accounts older than this when invited count as existing members.
JIFEN_REFERRAL_SIGNUP_WINDOW_HOURS = env_int("JIFEN_REFERRAL_SIGNUP_WINDOW_HOURS", 24)
# Product codes: the key codes are derived from (default: SECRET_KEY) and guessing limits.
JIFEN_CODES_SECRET = os.environ.get("JIFEN_CODES_SECRET", "")
JIFEN_CODE_MAX_FAILURES_PER_MEMBER = env_int("JIFEN_CODE_MAX_FAILURES_PER_MEMBER", 10)
JIFEN_CODE_MAX_FAILURES_PER_IP = env_int("JIFEN_CODE_MAX_FAILURES_PER_IP", 30)
JIFEN_CODE_FAILURE_WINDOW = env_int("JIFEN_CODE_FAILURE_WINDOW", 3600)
JIFEN_SITE_NAME = os.environ.get("JIFEN_SITE_NAME", "积分商城")
# Operator alerts (low stock, low code pools) go by e-mail to the staff allowed to act;
# a comma-separated list here sends them to these addresses instead.
JIFEN_OPERATOR_ALERT_EMAILS = os.environ.get("JIFEN_OPERATOR_ALERT_EMAILS", "")

# --- Mall: orders, payments, reviews (docs/mall.md, docs/payments.md, docs/reviews.md) -------
JIFEN_ORDER_PAYMENT_MINUTES = env_int("JIFEN_ORDER_PAYMENT_MINUTES", 30)
JIFEN_ORDER_RESERVATION_MARGIN_MINUTES = env_int("JIFEN_ORDER_RESERVATION_MARGIN_MINUTES", 15)
JIFEN_ORDER_AUTO_COMPLETE_DAYS = env_int("JIFEN_ORDER_AUTO_COMPLETE_DAYS", 10)
JIFEN_SHIPPING_FEE = os.environ.get("JIFEN_SHIPPING_FEE", "10.00")
JIFEN_FREE_SHIPPING_OVER = os.environ.get("JIFEN_FREE_SHIPPING_OVER", "99.00")
# "sandbox" is the built-in gateway simulator (not a real gateway); real providers are
# registered by name in JIFEN_PAYMENT_PROVIDERS (name -> dotted class path).
JIFEN_PAYMENT_PROVIDER = os.environ.get("JIFEN_PAYMENT_PROVIDER", "sandbox")
# The sandbox gateway lets anyone mark an order paid: with DEBUG off it is refused (system
# check payments.E001, pages 404) unless this says the site is a demo where no money moves.
JIFEN_ALLOW_SANDBOX_PAY = env_bool("JIFEN_ALLOW_SANDBOX_PAY", False)
JIFEN_PAYMENT_PROVIDERS: dict[str, str] = {}
JIFEN_SANDBOX_PAY_KEY = os.environ.get("JIFEN_SANDBOX_PAY_KEY", "")
# The key carriers' callback secrets derive from (default SECRET_KEY; set it to rotate
# SECRET_KEY without re-keying the carriers).
JIFEN_CARRIER_KEY = os.environ.get("JIFEN_CARRIER_KEY", "")
# The public address of this site, for callbacks that a worker sends back to it.
JIFEN_SITE_URL = os.environ.get("JIFEN_SITE_URL", "http://127.0.0.1:8000")
JIFEN_REVIEWS_PREMODERATED = env_bool("JIFEN_REVIEWS_PREMODERATED", True)
# After-sales may be requested up to N days after delivery (or completion).
JIFEN_AFTERSALE_DAYS = env_int("JIFEN_AFTERSALE_DAYS", 15)

# The back-office theme (django-unfold) is configured by the back-office app.
from jifen.backoffice.unfold_config import UNFOLD  # noqa: E402,F401
