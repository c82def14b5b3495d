"""The back-office dashboard: unfold's DASHBOARD_CALLBACK and the sidebar's badge.

Both only call selectors and shape their results for the template.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _

from jifen.backoffice import selectors
from jifen.backoffice.unfold_config import GOLD, PRIMARY

DASHBOARD_DAYS = 30
DASHBOARD_WINDOWS = (30, 90)


def _chart(series: selectors.DailySeries) -> str:
    """Chart.js data for unfold's line chart component (a JSON string)."""
    return json.dumps(
        {
            "labels": [day.strftime("%m-%d") for day in series.days],
            "datasets": [
                {
                    "label": _("发放"),
                    "data": series.issued,
                    "borderColor": PRIMARY["600"],
                    "backgroundColor": PRIMARY["600"],
                    "displayYAxis": True,
                    "maxTicksXLimit": 10,
                },
                {
                    "label": _("消费"),
                    "data": series.spent,
                    "borderColor": GOLD,
                    "backgroundColor": GOLD,
                },
                {
                    "label": _("过期"),
                    "data": series.expired,
                    "borderColor": "#a8a29e",
                    "backgroundColor": "#a8a29e",
                },
            ],
        },
        ensure_ascii=False,
    )


def dashboard_context(*, days: int = DASHBOARD_DAYS) -> dict[str, Any]:
    liability = selectors.points_liability()
    series = selectors.points_daily(days=days)
    return {
        "liability": liability,
        "members": selectors.members_count(),
        "series": series,
        "days": days,
        "totals": series.totals,
        "chart_data": _chart(series),
        "adjustments_pending": selectors.adjustments_pending_count(),
        "point_value": selectors.point_value(),
        "gold": GOLD,
        "red": PRIMARY["600"],
    }


# The figures are the company's books: shown to operators who may read the journal.
DASHBOARD_PERMISSION = "ledger.view_transaction"


def dashboard_callback(request: HttpRequest, context: dict[str, Any]) -> dict[str, Any]:
    context["title"] = _("运营概览")
    context["can_see_figures"] = request.user.has_perm(DASHBOARD_PERMISSION)
    if context["can_see_figures"]:
        try:
            days = int(request.GET.get("days", DASHBOARD_DAYS))
        except ValueError:
            days = DASHBOARD_DAYS
        if days not in DASHBOARD_WINDOWS:
            days = DASHBOARD_DAYS
        context.update(dashboard_context(days=days))
        context["windows"] = DASHBOARD_WINDOWS
    return context


def adjustments_pending_badge(request: HttpRequest) -> int:
    return selectors.adjustments_pending_count()
