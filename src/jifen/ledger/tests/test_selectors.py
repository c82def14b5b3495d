import datetime as dt

import pytest

from jifen.core.errors import ValidationFailed
from jifen.ledger.selectors import points_history, points_summary
from jifen.ledger.services import (
    points_earn,
    points_expire,
    points_hold,
    points_hold_capture,
    points_spend,
    points_transfer,
    transaction_reverse,
)

pytestmark = pytest.mark.django_db


def test_summary_reports_the_soonest_expiry(member):
    points_earn(
        member_id=member.pk,
        points=320,
        source="purchase",
        reference="e1",
        expires_on=dt.date(2099, 12, 31),
    )
    points_earn(
        member_id=member.pk,
        points=80,
        source="purchase",
        reference="e2",
        expires_on=dt.date(2099, 12, 31),
    )
    points_earn(
        member_id=member.pk,
        points=500,
        source="purchase",
        reference="e3",
        expires_on=dt.date(2100, 12, 31),
    )
    points_earn(
        member_id=member.pk,
        points=40,
        source="purchase",
        reference="e4",
        pending_until=dt.date(2099, 1, 1),
    )
    assert points_summary(member_id=member.pk) == {
        "available": 900,
        "pending": 40,
        "held": 0,
        "debt": 0,
        "next_expiry": {"points": 400, "date": dt.date(2099, 12, 31)},
    }


def test_summary_without_expiring_points(member):
    assert points_summary(member_id=member.pk)["next_expiry"] is None


def test_history_rows_are_signed_explained_and_filterable(make_member):
    alice = make_member(name="Alice")
    bob = make_member(name="Bob")
    points_earn(
        member_id=alice.pk,
        points=300,
        source="purchase",
        reference="e1",
        explanation="消费 ¥300.00",
        expires_on=dt.date(2099, 1, 31),
    )
    points_spend(
        member_id=alice.pk, points=50, purpose="mall", reference="s1", explanation="兑换 保温杯"
    )
    points_transfer(
        sender_id=alice.pk, recipient_id=bob.pk, points=100, reference="t1", note="生日快乐"
    )
    hold = points_hold(member_id=alice.pk, points=20, reference="h1")
    points_hold_capture(hold_id=hold.pk, reference="c1")
    spend = points_spend(member_id=alice.pk, points=30, purpose="mall", reference="s2")
    transaction_reverse(transaction_id=spend.pk, reference="r1", reason="退货")
    points_expire(today=dt.date(2100, 1, 1))

    rows, count = points_history(member_id=alice.pk)
    # The capture moves held points only, so it is not a row; newest first.
    assert count == 7
    assert [(r.kind, r.points, r.title) for r in rows] == [
        ("expire", -130, "积分过期"),
        ("refund", 30, "积分退回"),
        ("spend", -30, "积分兑换"),
        ("spend", -20, "积分冻结"),
        ("transfer", -100, "转赠给 Bob"),
        ("spend", -50, "积分兑换"),
        ("earn", 300, "获得积分"),
    ]
    assert rows[0].explanation == "2099-01-31 到期的积分"
    assert rows[1].explanation == "退货"
    bob_rows, bob_count = points_history(member_id=bob.pk)
    # Transferred points keep the sender's expiry, so Bob's expire on the same day.
    assert bob_count == 2
    assert [(r.title, r.points, r.explanation) for r in bob_rows] == [
        ("积分过期", -100, "2099-01-31 到期的积分"),
        ("收到 Alice 的转赠", 100, "留言：生日快乐"),
    ]
    earn_rows, earn_count = points_history(member_id=alice.pk, kind="earn")
    assert earn_count == 1 and earn_rows[0].explanation == "消费 ¥300.00"
    spend_rows, spend_count = points_history(member_id=alice.pk, kind="spend")
    assert (spend_count, [r.points for r in spend_rows]) == (3, [-30, -20, -50])
    page2, total = points_history(member_id=alice.pk, page=2, page_size=5)
    assert total == 7
    assert [(r.kind, r.points) for r in page2] == [("spend", -50), ("earn", 300)]


def test_history_rejects_unknown_kind(member):
    with pytest.raises(ValidationFailed):
        points_history(member_id=member.pk, kind="bogus")
