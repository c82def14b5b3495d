"""System checks of payments (run at start-up, by `migrate`, and by `check --deploy`).

payments.E001: the sandbox (a pretend gateway that marks payments paid without any money
moving) is the default provider of a production site. Anyone could then "pay" any order for
free on /pay/sandbox/<token>/. Refused unless the deployment says on purpose that it is a
demo: JIFEN_ALLOW_SANDBOX_PAY=1 (`make demo` sets it).
"""

from __future__ import annotations

from django.core.checks import Error

from jifen.payments.providers import default_provider_name
from jifen.payments.providers.sandbox import sandbox_enabled


def check_sandbox_in_production(app_configs=None, **kwargs) -> list[Error]:
    if default_provider_name() != "sandbox" or sandbox_enabled():
        return []
    return [
        Error(
            "The sandbox payment gateway is the payment provider while DEBUG is off: "
            "anyone could mark an order paid without paying.",
            hint=(
                "Set JIFEN_PAYMENT_PROVIDER to a real gateway (docs/payments.md), or set "
                "JIFEN_ALLOW_SANDBOX_PAY=1 if this site is a demo where no money moves."
            ),
            id="payments.E001",
        )
    ]
