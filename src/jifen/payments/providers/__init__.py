"""Payment providers by name. The default is JIFEN_PAYMENT_PROVIDER ("sandbox").

JIFEN_PAYMENT_PROVIDERS (a setting: {name: dotted class path}) adds real gateways; see
docs/payments.md for WeChat Pay and Alipay.
"""

from __future__ import annotations

import os
from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from jifen.payments.providers.base import PaymentProvider

BUILT_IN = {"sandbox": "jifen.payments.providers.sandbox.SandboxProvider"}


def provider_paths() -> dict[str, str]:
    return {**BUILT_IN, **getattr(settings, "JIFEN_PAYMENT_PROVIDERS", {})}


def default_provider_name() -> str:
    return (
        getattr(settings, "JIFEN_PAYMENT_PROVIDER", "")
        or os.environ.get("JIFEN_PAYMENT_PROVIDER", "")
        or "sandbox"
    )


def provider_known(name: str) -> bool:
    return name in provider_paths()


@cache
def _load(name: str, path: str) -> PaymentProvider:
    return import_string(path)()


def get_provider(name: str) -> PaymentProvider:
    """The provider registered under `name`; KeyError if there is none."""
    return _load(name, provider_paths()[name])
