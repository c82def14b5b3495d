"""The dashboard's figures, for a known set of postings at known moments (Asia/Shanghai)."""

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from jifen.backoffice import selectors
from jifen.backoffice.tests.factories import at, sh
from jifen.ledger.services import (
    adjustment_request,
    points_earn,
    points_expire,
    points_hold,
    points_hold_capture,
    points_spend,
)
from jifen.members.models import User

pytestmark = pytest.mark.django_db


def _joined(members, moment):
    # date_joined's default is bound to the real clock, so it is set here directly.
    User.objects.filter(pk__in=[m.pk for m in members]).update(date_joined=moment)


D = dt.date
TODAY = D(2026, 3, 10)
NOW = sh(2026, 3, 10, 12, 0)


@pytest.fixture
def postings(make_member, superuser, settings):
    """Members A, B, C (joined 1 Jan) and D (joined 5 Mar), and what happened to them.

    issued:  1 Mar 1000 (A), 3 Mar 00:30 500 (B; still 2 Mar in UTC), 8 Mar 200 (B,
             adjustment), 9 Mar 50 (C, pending); 1 Jan 80 (C) is outside the window.
    spent:   2 Mar 23:30 300 (A; 15:30 UTC), 9 Mar 100 (B, hold captured).
    expired: 6 Mar 700 (A's lot, last valid day 5 Mar).
    outstanding: A 0, B 600, C 50 available + 30 held + 50 pending = 730 points.
    """
    settings.JIFEN_POINT_VALUE = "0.01"
    settings.JIFEN_CURRENCY = "CNY"
    with at(sh(2026, 1, 1, 9)):
        a, b, c = make_member(), make_member(), make_member()
        _joined([a, b, c], sh(2026, 1, 1, 9))
        points_earn(member_id=c.pk, points=80, source="purchase", reference="c-1")
    with at(sh(2026, 3, 1, 10)):
        points_earn(
            member_id=a.pk,
            points=1000,
            source="purchase",
            reference="a-1",
            expires_on=D(2026, 3, 5),
        )
    with at(sh(2026, 3, 2, 23, 30)):
        points_spend(member_id=a.pk, points=300, purpose="mall", reference="a-spend")
    with at(sh(2026, 3, 3, 0, 30)):
        points_earn(member_id=b.pk, points=500, source="checkin", reference="b-1")
    with at(sh(2026, 3, 5, 8)):
        _joined([make_member()], sh(2026, 3, 5, 8))  # D
    with at(sh(2026, 3, 6, 3)):
        assert points_expire() == 700
    with at(sh(2026, 3, 8, 15)):
        adjustment_request(
            member_id=b.pk, points=200, reason="补偿", reference="adj-b", requested_by=superuser
        )
        adjustment_request(
            member_id=b.pk,
            points=50_000,
            reason="大额",
            reference="adj-big",
            requested_by=superuser,
        )
    with at(sh(2026, 3, 9, 11)):
        hold = points_hold(member_id=b.pk, points=100, reference="b-hold")
        points_hold_capture(hold_id=hold.pk, reference="b-capture")
        points_hold(member_id=c.pk, points=30, reference="c-hold")
        points_earn(
            member_id=c.pk,
            points=50,
            source="purchase",
            reference="c-2",
            pending_until=D(2026, 3, 20),
        )


def test_liability(postings):
    liability = selectors.points_liability()

    assert (liability.available, liability.pending, liability.held) == (650, 50, 30)
    assert liability.points == 730
    assert liability.value == Decimal("7.30")
    assert liability.currency == "CNY"


def test_liability_value_follows_the_point_value(postings, settings):
    settings.JIFEN_POINT_VALUE = "0.005"
    settings.JIFEN_CURRENCY = "USD"

    liability = selectors.points_liability()

    assert (liability.value, liability.currency) == (Decimal("3.65"), "USD")


def test_daily_series_group_by_business_day(postings):
    series = selectors.points_daily(days=30, today=TODAY)

    assert series.days[0] == D(2026, 2, 9) and series.days[-1] == TODAY
    assert len(series.days) == 30
    by_day = {
        name: {
            day: value
            for day, value in zip(series.days, getattr(series, name), strict=True)
            if value
        }
        for name in ("issued", "spent", "expired")
    }
    assert by_day["issued"] == {
        D(2026, 3, 1): 1000,
        D(2026, 3, 3): 500,  # 00:30 in Shanghai, although 2 March in UTC
        D(2026, 3, 8): 200,
        D(2026, 3, 9): 50,
    }
    assert by_day["spent"] == {D(2026, 3, 2): 300, D(2026, 3, 9): 100}  # 23:30 stays on 2 March
    assert by_day["expired"] == {D(2026, 3, 6): 700}
    assert series.totals == {"issued": 1750, "spent": 400, "expired": 700}


def test_a_shorter_window_leaves_earlier_days_out(postings):
    series = selectors.points_daily(days=7, today=TODAY)  # 4..10 March

    assert series.totals == {"issued": 250, "spent": 100, "expired": 700}


def test_the_books_agree_with_the_series(postings):
    # Everything since the first posting: the change in outstanding points equals
    # issued - spent - expired.
    series = selectors.points_daily(days=90, today=TODAY)
    totals = series.totals

    assert totals["issued"] - totals["spent"] - totals["expired"] == 730


def test_members_and_pending_adjustments(postings):
    with at(NOW):
        members = selectors.members_count()

    assert members == {"total": 4, "active": 4, "new_30d": 1}
    assert selectors.adjustments_pending_count() == 1


def test_dashboard_page_shows_the_figures(boss, postings):
    with at(NOW):
        response = boss.get(reverse("admin:index"))

    assert response.status_code == 200
    html = response.content.decode()
    for kpi, value in (
        ("outstanding", "730"),
        ("liability-value", "CNY 7.30"),
        ("members", "4"),
        ("issued", "1,750"),
        ("spent", "400"),
        ("expired", "700"),
        ("adjustments-pending", "1"),
    ):
        assert f'data-kpi="{kpi}">{value}<' in html, kpi
    chart = json.loads(response.context["chart_data"])
    assert chart["labels"][0] == "02-09" and chart["labels"][-1] == "03-10"
    issued, spent, expired = (dataset["data"] for dataset in chart["datasets"])
    assert issued[chart["labels"].index("03-03")] == 500
    assert issued[chart["labels"].index("03-02")] == 0
    assert spent[chart["labels"].index("03-02")] == 300
    assert expired[chart["labels"].index("03-06")] == 700
    assert sum(issued) == 1750
    assert 'class="chart"' in html and "unfold/js/chart/chart.js" in html


def test_sidebar_badge_counts_pending_adjustments(boss, postings):
    with at(NOW):
        response = boss.get(reverse("admin:ledger_transaction_changelist"))

    adjustments = next(
        item
        for group in response.context["sidebar_navigation"]
        for item in group["items"]
        if "ledger/adjustment" in str(item["link"])
    )
    assert str(adjustments["badge_callback"]) == "1"


def test_empty_dashboard(boss):
    response = boss.get(reverse("admin:index"))

    assert response.status_code == 200
    assert response.context["liability"].points == 0
    assert response.context["totals"] == {"issued": 0, "spent": 0, "expired": 0}


@pytest.mark.parametrize(("param", "days"), [("90", 90), ("30", 30), ("7", 30), ("x", 30)])
def test_dashboard_window(boss, postings, param, days):
    with at(NOW):
        response = boss.get(reverse("admin:index"), {"days": param})

    assert response.context["days"] == days
    chart = json.loads(response.context["chart_data"])
    assert len(chart["labels"]) == days
    # Everything since 1 January is inside 90 days of 10 March.
    expected = {"issued": 1830, "spent": 400, "expired": 700} if days == 90 else None
    assert response.context["totals"] == (
        expected or {"issued": 1750, "spent": 400, "expired": 700}
    )
