"""Downgrade notices: N days before the review, once, only to members who would drop."""

import datetime as dt

import pytest

from jifen.core import clock
from jifen.tiers import selectors
from jifen.tiers.models import TierNotice
from jifen.tiers.services import tier_notices_send
from jifen.tiers.tests.helpers import earn, put_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def today():
    return clock.business_date()


def test_a_member_short_of_keeping_the_level_is_warned_once(member, today):
    review_on = today + dt.timedelta(days=30)
    put_on(member, "gold", review_on=review_on)
    earn(member, 5000)

    assert tier_notices_send(today=today) == 1
    assert tier_notices_send(today=today) == 0
    assert tier_notices_send(today=today + dt.timedelta(days=1)) == 0

    notice = TierNotice.objects.get(member=member)
    assert notice.review_on == review_on
    assert (notice.level.code, notice.projected_level.code) == ("gold", "silver")
    assert notice.points_needed == 3000
    assert notice.spend_needed is not None  # gold has a spend threshold too


def test_no_notice_earlier_than_the_notice_period(member, today, settings):
    settings.JIFEN_TIER_NOTICE_DAYS = 30
    put_on(member, "gold", review_on=today + dt.timedelta(days=31))

    assert tier_notices_send(today=today) == 0
    assert tier_notices_send(today=today + dt.timedelta(days=1)) == 1


def test_no_notice_on_the_review_day_itself(member, today):
    put_on(member, "gold", review_on=today)

    assert tier_notices_send(today=today) == 0


def test_a_member_who_keeps_the_level_is_not_warned(member, today):
    put_on(member, "gold", review_on=today + dt.timedelta(days=10))
    earn(member, 8000)

    assert tier_notices_send(today=today) == 0


def test_the_projection_leaves_out_what_drops_out_of_the_window_by_the_review(member, today):
    review_on = today + dt.timedelta(days=20)
    put_on(member, "gold", review_on=review_on)
    # Inside today's window but before the window that ends on the review date.
    earn(
        member,
        8000,
        at=clock.start_of_business_day(selectors.add_months(today, -12)) + dt.timedelta(days=5),
    )

    assert selectors.qualification_totals(member.pk, selectors.window_ending(today)).points == 8000
    assert tier_notices_send(today=today) == 1


def test_the_member_sees_the_notice_until_they_qualify_again(member, today):
    put_on(member, "gold", review_on=today + dt.timedelta(days=30))
    earn(member, 7000)
    tier_notices_send(today=today)

    notice = selectors.tier_progress(member.pk, today).notice
    assert (notice.level_name, notice.projected_name, notice.points_needed) == (
        "金卡",
        "银卡",
        1000,
    )

    earn(member, 1000)
    assert selectors.tier_progress(member.pk, today).notice is None


def test_qualified_policy_projects_the_qualified_level(member, today, settings):
    settings.JIFEN_TIER_DOWNGRADE_POLICY = "qualified"
    put_on(member, "diamond", review_on=today + dt.timedelta(days=5))

    tier_notices_send(today=today)

    assert TierNotice.objects.get(member=member).projected_level.code == "normal"
