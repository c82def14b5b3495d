"""The ledger verification's check of points-as-cash holds (H1).

Each IntegrationHold agrees with its ledger Hold: the same member and points, and the same
fate (held ↔ held, captured ↔ captured, released or expired ↔ released). Registered with
jifen.ledger.verification.register_check from the app's ready().
"""

from __future__ import annotations

from django.db.models import F, Q

from jifen.integrations.models import IntegrationHold
from jifen.ledger.models import Hold

FATE = {
    IntegrationHold.Status.HELD: Hold.Status.HELD,
    IntegrationHold.Status.CAPTURED: Hold.Status.CAPTURED,
    IntegrationHold.Status.RELEASED: Hold.Status.RELEASED,
    IntegrationHold.Status.EXPIRED: Hold.Status.RELEASED,
}


def check_integration_holds(report) -> None:
    from jifen.ledger.verification import Violation

    agrees = Q()
    for status, ledger_status in FATE.items():
        agrees |= Q(status=status, ledger_hold__status=ledger_status)
    wrong = (
        IntegrationHold.objects.exclude(
            agrees & Q(points=F("ledger_hold__points")) & Q(member_id=F("ledger_hold__member_id"))
        )
        .values_list(
            "pk", "order_id", "status", "points", "ledger_hold__status", "ledger_hold__points"
        )
        .order_by("pk")
    )
    for pk, order_id, status, points, ledger_status, ledger_points in wrong:
        report.violations.append(
            Violation(
                "H1",
                f"integration hold {pk} ({order_id})",
                f"{status} {points} points != ledger hold {ledger_status} {ledger_points} points",
            )
        )
    report.summary["integration_holds"] = IntegrationHold.objects.count()
