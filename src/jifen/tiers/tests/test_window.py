"""The rolling window: business days in settings.TIME_ZONE, both ends included."""

import datetime as dt
from decimal import Decimal

import pytest

from jifen.tiers import selectors
from jifen.tiers.models import Level
from jifen.tiers.selectors import Totals, Window, add_months, qualified_level, window_ending
from jifen.tiers.tests.helpers import at_business, earn, purchase

pytestmark = pytest.mark.django_db
END = dt.date(2026, 11, 23)


def test_twelve_months_ending_a_day_start_the_day_after_a_year_before():
    window = window_ending(END)

    assert (window.first, window.last) == (dt.date(2025, 11, 24), END)
    # Midnight in Shanghai is 16:00 UTC the day before.
    assert window.start.isoformat() == "2025-11-24T00:00:00+08:00"
    assert window.end.isoformat() == "2026-11-24T00:00:00+08:00"


def test_month_ends_are_clamped():
    assert add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2026, 3, 31), -1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 1, 31), 13) == dt.date(2027, 2, 28)
    assert window_ending(dt.date(2025, 2, 28)).first == dt.date(2024, 2, 29)


def test_window_length_follows_the_setting(settings):
    settings.JIFEN_TIER_WINDOW_MONTHS = 6

    assert window_ending(END).first == dt.date(2026, 5, 24)


def test_earnings_at_the_edges_of_the_window(member):
    window = window_ending(END)
    earn(member, 1, at=at_business(dt.date(2025, 11, 23), 23, 59, 59))  # the day before: out
    earn(member, 10, at=at_business(dt.date(2025, 11, 24), 0, 0, 0))  # first instant: in
    earn(member, 100, at=at_business(END, 23, 59, 59))  # last second: in
    earn(member, 1000, at=at_business(END + dt.timedelta(days=1), 0, 0, 0))  # next day: out

    assert selectors.points_earned(member.pk, window) == 110


def test_a_utc_midnight_is_already_the_next_business_day(member):
    # 2025-11-23 16:30 UTC is 2025-11-24 00:30 in Shanghai: inside the window.
    earn(member, 7, at=dt.datetime(2025, 11, 23, 16, 30, tzinfo=dt.UTC))
    # 2025-11-23 15:59 UTC is 23:59 on the 23rd in Shanghai: outside.
    earn(member, 3, at=dt.datetime(2025, 11, 23, 15, 59, tzinfo=dt.UTC))

    assert selectors.points_earned(member.pk, window_ending(END)) == 7


def test_a_late_reversal_counts_against_the_window_of_its_earning(member):
    from jifen.ledger.services import transaction_reverse

    old = earn(member, 500, at=at_business(dt.date(2025, 10, 1)))  # before the window
    new = earn(member, 300, at=at_business(dt.date(2026, 1, 1)))
    transaction_reverse(transaction_id=old.pk, reference="r-old")  # today: not in the window
    transaction_reverse(transaction_id=new.pk, reference="r-new", points=100)

    assert selectors.points_earned(member.pk, window_ending(END)) == 200


def test_other_members_points_do_not_count(make_member):
    one, other = make_member(), make_member()
    earn(other, 5000, at=at_business(END))

    assert selectors.points_earned(one.pk, window_ending(END)) == 0


def _totals(points=0, spend=None):
    return Totals(window=Window(END, END), points=points, spend=spend)


def test_thresholds_are_reached_at_exactly_the_amount(db):
    levels = list(Level.objects.order_by("rank"))

    assert qualified_level(levels, _totals(1999)).code == "normal"
    assert qualified_level(levels, _totals(2000)).code == "silver"
    assert qualified_level(levels, _totals(7999)).code == "silver"
    assert qualified_level(levels, _totals(8000)).code == "gold"
    assert qualified_level(levels, _totals(30000)).code == "diamond"


def test_spend_qualifies_on_its_own_exactly_at_the_amount(db):
    levels = list(Level.objects.order_by("rank"))

    assert qualified_level(levels, _totals(0, Decimal("1999.99"))).code == "normal"
    assert qualified_level(levels, _totals(0, Decimal("2000.00"))).code == "silver"
    assert qualified_level(levels, _totals(2000, Decimal("8000.00"))).code == "gold"


def test_a_level_with_no_threshold_on_a_basis_is_not_reached_by_it(db):
    Level.objects.filter(code="silver").update(min_spend=None)
    levels = list(Level.objects.order_by("rank"))

    # Zero spend never qualifies (ERPNext #22167: a zero minimum chose the wrong tier).
    assert qualified_level(levels, _totals(0, Decimal("0.00"))).code == "normal"
    assert qualified_level(levels, _totals(0, Decimal("5000.00"))).code == "normal"


def test_without_purchase_data_spend_is_unknown_and_points_still_qualify(member, monkeypatch):
    monkeypatch.setattr(selectors, "purchase_model", lambda: None)
    earn(member, 2000, at=at_business(END))

    totals = selectors.qualification_totals(member.pk, window_ending(END))

    assert (totals.points, totals.spend) == (2000, None)
    assert qualified_level(list(Level.objects.order_by("rank")), totals).code == "silver"


def test_spend_in_the_window_is_net_of_refunds_with_business_day_edges(member):
    purchase(member, "1000.00", at=at_business(dt.date(2025, 11, 23), 23, 59, 59))  # out
    purchase(member, "1500.50", at=at_business(dt.date(2025, 11, 24), 0, 0, 0), refunded="500.50")
    purchase(member, "999.99", at=at_business(END, 23, 59, 59))
    purchase(member, "5000.00", at=at_business(END + dt.timedelta(days=1)))  # out

    assert selectors.amount_spent(member.pk, window_ending(END)) == Decimal("1999.99")


def test_spend_alone_upgrades_exactly_at_the_threshold(member):
    from jifen.core import clock
    from jifen.tiers.services import tier_evaluate

    now = clock.now()
    purchase(member, "1999.99", at=now)
    assert tier_evaluate(member_id=member.pk) is None

    purchase(member, "0.01", at=now)
    change = tier_evaluate(member_id=member.pk)

    assert change.to_level.code == "silver"
    assert change.amount_spent == Decimal("2000.00")
    assert change.points_earned == 0
