"""Sharing earns points at most N times a business day, once per target."""

import pytest

from jifen.core.errors import ValidationFailed
from jifen.engagement.models import Share, TaskCompletion
from jifen.engagement.selectors import share_summary
from jifen.engagement.services import share_create
from jifen.ledger.models import Transaction
from jifen.ledger.services import balances_of

pytestmark = pytest.mark.django_db


def share(member, target, channel="wechat"):
    return share_create(member_id=member.pk, target=target, channel=channel)


def test_shares_earn_up_to_the_daily_cap(member, at, set_config):
    set_config(share_points=5, share_daily_cap=3)
    at(2026, 11, 2, 10)

    got = [share(member, f"item:{i}") for i in range(4)]

    assert [s.points for s in got] == [5, 5, 5, 0]
    assert [s.slot for s in got] == [1, 2, 3, None]
    assert balances_of(member.pk)["available"] == 15
    assert Share.objects.count() == 4
    assert share_summary(member_id=member.pk).remaining == 0
    assert Transaction.objects.filter(reference=f"share:{member.pk}:2026-11-02:3").exists()


def test_the_cap_resets_on_the_next_business_day(member, at, set_config):
    set_config(share_points=5, share_daily_cap=1)
    at(2026, 11, 2, 23, 59)
    share(member, "item:1")
    assert share(member, "item:2").points == 0
    at(2026, 11, 3, 0, 1)

    assert share(member, "item:2").points == 5
    assert balances_of(member.pk)["available"] == 10


def test_the_same_target_earns_once_a_day(member, at, set_config):
    set_config(share_points=5, share_daily_cap=3)
    at(2026, 11, 2)

    first = share(member, "campaign:double-11", "wechat")
    again = share(member, "campaign:double-11", "weibo")

    assert (first.points, again.points) == (5, 0)
    assert balances_of(member.pk)["available"] == 5


def test_sharing_counts_for_a_share_task(member, at, config, make_task):
    at(2026, 11, 2)
    make_task("share", action="share", points=8, cap=1)

    share(member, "item:1")
    share(member, "item:2")

    assert TaskCompletion.objects.count() == 1
    assert balances_of(member.pk)["available"] == 5 + 5 + 8


@pytest.mark.parametrize(
    "target,channel,code",
    [
        ("", "wechat", "invalid_target"),
        ("item", "wechat", "invalid_target"),
        ("item:", "wechat", "invalid_target"),
        ("item:1 2", "wechat", "invalid_target"),
        ("x" * 200, "wechat", "invalid_target"),
        (None, "wechat", "invalid_target"),
        ("item:1", "qq", "invalid_channel"),
        ("item:1", "", "invalid_channel"),
    ],
)
def test_bad_shares_are_refused(member, at, config, target, channel, code):
    at(2026, 11, 2)
    with pytest.raises(ValidationFailed) as error:
        share_create(member_id=member.pk, target=target, channel=channel)
    assert error.value.code == code
    assert not Share.objects.exists()
    assert balances_of(member.pk)["available"] == 0


def test_no_points_when_sharing_rewards_are_off(member, at, set_config):
    set_config(share_points=0)
    at(2026, 11, 2)
    assert share(member, "item:1").points == 0
    assert not Transaction.objects.exists()
