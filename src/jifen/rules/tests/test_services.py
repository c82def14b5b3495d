"""Rule versions, evaluation at the purchase's time, caps and the first-purchase guard."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from jifen.core.errors import NotFound, ValidationFailed
from jifen.rules.models import CapCounter, FirstPurchase, Rule
from jifen.rules.selectors import (
    member_earn_multiplier,
    purchase_preview,
    rules_current,
    rules_in_force,
)
from jifen.rules.services import purchase_award, rule_retire, rule_save

BASE = {"name": "基础", "kind": "base_rate", "points": 1}


def test_saving_a_rule_opens_a_new_version_and_closes_the_old(db):
    first = rule_save(code="base", data=BASE)
    second = rule_save(code="base", data={**BASE, "points": 2})
    first.refresh_from_db()
    assert (first.version, second.version) == (1, 2)
    assert first.valid_until == second.valid_from
    assert second.valid_until is None
    assert list(rules_current()) == [second]
    assert rules_in_force(at=first.valid_from) == [first]
    assert rules_in_force(at=second.valid_from) == [second]


def test_a_purchase_is_evaluated_by_the_rules_of_its_time(member):
    old = rule_save(code="base", data=BASE)
    rule_save(code="base", data={**BASE, "points": 5})
    before = old.valid_from + dt.timedelta(microseconds=1)
    award = purchase_award(
        member=member, amount=Decimal("10.00"), occurred_at=before, reference="x"
    )
    assert award.points == 10
    assert "base v1" not in award.explanation  # names by rule name
    now = purchase_award(
        member=member, amount=Decimal("10.00"), occurred_at=timezone.now(), reference="y"
    )
    assert now.points == 50


def test_retired_rule_stops_applying(member):
    rule_save(code="base", data=BASE)
    retired = rule_retire(code="base")
    assert retired.valid_until is not None
    award = purchase_award(
        member=member, amount=Decimal("10.00"), occurred_at=timezone.now(), reference="x"
    )
    assert award.points == 0
    with pytest.raises(NotFound):
        rule_retire(code="base")


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"name": "", "kind": "base_rate", "points": 1}, {"name"}),
        ({"name": "x", "kind": "nope"}, {"kind"}),
        ({"name": "x", "kind": "base_rate", "points": 0}, {"points"}),
        ({"name": "x", "kind": "base_rate", "points": -1}, {"points"}),
        ({"name": "x", "kind": "base_rate", "points": 1, "unit_amount": "0"}, {"unit_amount"}),
        ({"name": "x", "kind": "multiplier", "multiplier": "-1"}, {"multiplier"}),
        ({"name": "x", "kind": "multiplier", "multiplier": "abc"}, {"multiplier"}),
        ({"name": "x", "kind": "multiplier", "weekdays": "0,8"}, {"weekdays"}),
        (
            {"name": "x", "kind": "multiplier", "starts_on": "2026-02-01", "ends_on": "2026-01-01"},
            {"ends_on"},
        ),
        ({"name": "x", "kind": "exclusion"}, {"categories"}),
        ({"name": "x", "kind": "threshold_bonus", "points": 10}, {"min_amount"}),
    ],
)
def test_bad_rules_are_refused(db, data, fields):
    with pytest.raises(ValidationFailed) as error:
        rule_save(code="r", data=data)
    assert set(error.value.fields) == fields
    assert Rule.objects.count() == 0


def test_bad_code_is_refused(db):
    with pytest.raises(ValidationFailed):
        rule_save(code="Bad Code", data=BASE)
    assert Rule.objects.count() == 0


def test_first_purchase_is_claimed_once(member):
    rule_save(code="base", data=BASE)
    rule_save(code="first", data={"name": "首单", "kind": "first_purchase_bonus", "points": 50})
    now = timezone.now()
    first = purchase_award(member=member, amount=Decimal("10.00"), occurred_at=now, reference="a")
    second = purchase_award(member=member, amount=Decimal("10.00"), occurred_at=now, reference="b")
    assert (first.points, second.points) == (60, 10)
    assert FirstPurchase.objects.get(member=member).reference == "a"


def test_member_and_global_caps_count_per_period(make_member):
    alice, bob = make_member(), make_member()
    rule_save(code="base", data=BASE)
    rule_save(code="day", data={"name": "每日上限", "kind": "cap", "points": 150})
    rule_save(
        code="all",
        data={
            "name": "全站每月",
            "kind": "cap",
            "points": 250,
            "cap_scope": "global",
            "cap_period": "month",
        },
    )
    now = timezone.now()
    got = [
        purchase_award(
            member=alice, amount=Decimal("100.00"), occurred_at=now, reference="1"
        ).points,
        purchase_award(
            member=alice, amount=Decimal("100.00"), occurred_at=now, reference="2"
        ).points,
        purchase_award(member=bob, amount=Decimal("100.00"), occurred_at=now, reference="3").points,
    ]
    assert got == [100, 50, 100]
    counters = {(c.rule_code, c.member_id): c.points for c in CapCounter.objects.all()}
    assert counters == {("day", alice.pk): 150, ("day", bob.pk): 100, ("all", 0): 250}
    # The same month stays capped; next month the global cap starts again. (Dated at or
    # after the rules' creation: a purchase is evaluated by the rules in force when it
    # happened, so "yesterday" would find none on the 1st of a month.)
    assert (
        purchase_award(member=bob, amount=Decimal("1.00"), occurred_at=now, reference="4").points
        == 0
    )
    today = timezone.localdate(now)
    first_of_next = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    next_month = timezone.make_aware(dt.datetime.combine(first_of_next, dt.time(10)))
    late = purchase_award(
        member=alice, amount=Decimal("1.00"), occurred_at=next_month, reference="5"
    )
    assert late.points == 1


def test_preview_changes_nothing_and_tries_a_draft(member):
    rule_save(code="base", data=BASE)
    draft = Rule(code="double", version=0, name="双倍", kind="multiplier", multiplier=Decimal(2))
    award, rules = purchase_preview(
        member=member, amount=Decimal("10.00"), occurred_at=timezone.now(), draft=draft
    )
    assert award.points == 20
    assert [rule.code for rule in rules] == ["base", "double"]
    assert FirstPurchase.objects.count() == CapCounter.objects.count() == 0
    assert Rule.objects.count() == 1


def test_tier_hook_defaults_to_one(member):
    multiplier, _name = member_earn_multiplier(member_id=member.pk, on_date=timezone.localdate())
    assert multiplier == Decimal(1)


def test_cap_counters_prune_keeps_recent_periods(db):
    from jifen.rules.services import cap_counters_prune

    today = dt.date(2026, 11, 23)
    for start in (dt.date(2026, 9, 1), dt.date(2026, 9, 23), dt.date(2026, 10, 1), today):
        CapCounter.objects.create(rule_code="cap", member_id=1, period_start=start, points=5)
    assert cap_counters_prune(today=today) == 1
    assert sorted(CapCounter.objects.values_list("period_start", flat=True)) == [
        dt.date(2026, 9, 23),
        dt.date(2026, 10, 1),
        today,
    ]


def test_cap_counters_prune_task_runs_the_service(db):
    from jifen.rules.tasks import cap_counters_prune_task

    CapCounter.objects.create(rule_code="cap", member_id=1, period_start=dt.date(2000, 1, 1))
    assert cap_counters_prune_task() == 1
    assert CapCounter.objects.count() == 0


def test_a_free_purchase_is_not_the_first(member):
    rule_save(code="first", data={"name": "首单", "kind": "first_purchase_bonus", "points": 50})
    now = timezone.now()
    free = purchase_award(member=member, amount=Decimal("0.00"), occurred_at=now, reference="a")
    paid = purchase_award(member=member, amount=Decimal("1.00"), occurred_at=now, reference="b")
    assert (free.points, paid.points) == (0, 50)
    assert FirstPurchase.objects.get(member=member).reference == "b"
