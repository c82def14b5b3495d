"""The pure evaluation: worked examples and hypothesis properties."""

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from jifen.rules import engine
from jifen.rules.engine import CapUsage, Facts, Line, RuleSpec, check_arithmetic, evaluate

DAY = dt.date(2026, 11, 23)  # a Monday


def rule(id, kind, **kwargs):
    kwargs.setdefault("name", kind)
    return RuleSpec(id=id, code=f"r{id}", version=1, kind=kind, **kwargs)


BASE = rule(1, engine.BASE_RATE, name="基础", points=1)


def facts(amount="128.00", **kwargs):
    return Facts(amount=Decimal(amount), occurred_on=kwargs.pop("on", DAY), **kwargs)


def test_the_issue_example():
    rules = [
        BASE,
        rule(2, engine.TIER_MULTIPLIER, name="等级"),
        rule(3, engine.THRESHOLD_BONUS, name="满100赠10", points=10, min_amount=Decimal(100)),
    ]
    award = evaluate(facts(tier_name="金卡", tier_multiplier=Decimal("1.5")), rules)
    assert award.points == 202
    assert award.explanation == "消费 ¥128.00 × 1 积分/元 × 1.5 金卡 = 192; 满100赠10 +10 → 202"
    assert award.applied_rule_ids == [1, 2, 3]


def test_rate_per_ten_yuan_rounds_down():
    award = evaluate(
        facts("128.00"), [rule(1, engine.BASE_RATE, name="基础", points=1, unit_amount=Decimal(10))]
    )
    assert award.points == 12
    assert award.explanation == "消费 ¥128.00 × 1 积分/¥10.00 = 12"


def test_multipliers_round_down_once():
    rules = [
        BASE,
        rule(2, engine.MULTIPLIER, name="双倍", multiplier=Decimal("1.2")),
        rule(3, engine.TIER_MULTIPLIER),
    ]
    award = evaluate(facts("9.99", tier_name="银卡", tier_multiplier=Decimal("1.2")), rules)
    # 9.99 × 1.2 × 1.2 = 14.3856 → 14 (not floor(floor(11.988) × 1.2) = 13)
    assert award.points == 14


def test_category_multiplier_and_exclusion():
    lines = (
        Line("TV", "家电", 1, Decimal("100.00")),
        Line("TOB", "烟酒", 1, Decimal("50.00")),
        Line("BRD", "食品", 2, Decimal("10.00")),
    )
    rules = [
        BASE,
        rule(2, engine.LINE_MULTIPLIER, name="家电", multiplier=Decimal(2), categories=("家电",)),
        rule(3, engine.EXCLUSION, name="烟酒", categories=("烟酒",)),
    ]
    award = evaluate(facts("160.00", lines=lines), rules)
    assert award.points == 210
    assert award.explanation == (
        "不计积分 ¥50.00; 消费 (¥10.00 + ¥100.00 × 2 家电) × 1 积分/元 = 210"
    )


def test_sku_exclusion_beats_category_multiplier():
    lines = (Line("X1", "家电", 1, Decimal("100.00")),)
    rules = [
        BASE,
        rule(2, engine.LINE_MULTIPLIER, name="家电", multiplier=Decimal(2), categories=("家电",)),
        rule(3, engine.EXCLUSION, name="X1", skus=("X1",)),
    ]
    assert evaluate(facts("100.00", lines=lines), rules).points == 0


def test_threshold_ladder_takes_the_highest_reached():
    rules = [
        BASE,
        rule(2, engine.THRESHOLD_BONUS, name="满100赠10", points=10, min_amount=Decimal(100)),
        rule(3, engine.THRESHOLD_BONUS, name="满200赠30", points=30, min_amount=Decimal(200)),
    ]
    assert evaluate(facts("250.00"), rules).points == 280
    assert evaluate(facts("199.99"), rules).points == 209
    every = [
        BASE,
        rule(
            4,
            engine.THRESHOLD_BONUS,
            name="每满100赠10",
            points=10,
            min_amount=Decimal(100),
            repeat=True,
        ),
    ]
    assert evaluate(facts("350.00"), every).points == 380


def test_first_purchase_bonus_only_on_the_first():
    rules = [BASE, rule(2, engine.FIRST_PURCHASE_BONUS, name="首单", points=50)]
    assert evaluate(facts("10.00", first_purchase=True), rules).points == 60
    assert evaluate(facts("10.00", first_purchase=False), rules).points == 10


def test_store_and_channel_filters():
    rules = [
        BASE,
        rule(
            2,
            engine.MULTIPLIER,
            name="门店双倍",
            multiplier=Decimal(2),
            stores=("SH01",),
            channels=("pos",),
        ),
    ]
    assert evaluate(facts("10.00", store="SH01", channel="pos"), rules).points == 20
    assert evaluate(facts("10.00", store="SH01", channel="app"), rules).points == 10
    assert evaluate(facts("10.00", store="BJ01", channel="pos"), rules).points == 10


def test_campaign_dates_weekends_and_member_day():
    double = rule(
        2,
        engine.MULTIPLIER,
        name="双十一",
        multiplier=Decimal(2),
        starts_on=dt.date(2026, 11, 11),
        ends_on=dt.date(2026, 11, 12),
    )
    weekend = rule(3, engine.MULTIPLIER, name="周末", multiplier=Decimal(2), weekdays=(6, 7))
    member_day = rule(4, engine.MULTIPLIER, name="会员日", multiplier=Decimal(3), month_days=(8,))
    rules = [BASE, double, weekend, member_day]
    assert evaluate(facts("10.00", on=dt.date(2026, 11, 11)), rules).points == 20  # Wednesday
    assert evaluate(facts("10.00", on=dt.date(2026, 11, 13)), rules).points == 10
    assert evaluate(facts("10.00", on=dt.date(2026, 11, 14)), rules).points == 20  # Saturday
    assert evaluate(facts("10.00", on=dt.date(2026, 11, 8)), rules).points == 60  # Sunday, 8th


def test_birthday_day_and_month():
    day = rule(2, engine.BIRTHDAY_MULTIPLIER, name="生日", multiplier=Decimal(2))
    month = rule(
        3,
        engine.BIRTHDAY_MULTIPLIER,
        name="生日月",
        multiplier=Decimal("1.5"),
        birthday_scope="month",
    )
    born = dt.date(1990, 11, 23)
    assert evaluate(facts("10.00", birthday=born), [BASE, day]).points == 20
    assert (
        evaluate(facts("10.00", birthday=born, on=dt.date(2026, 11, 24)), [BASE, day]).points == 10
    )
    assert (
        evaluate(facts("10.00", birthday=born, on=dt.date(2026, 11, 2)), [BASE, month]).points == 15
    )
    leap = dt.date(2000, 2, 29)
    assert (
        evaluate(facts("10.00", birthday=leap, on=dt.date(2026, 2, 28)), [BASE, day]).points == 20
    )


def test_priority_and_stop_further():
    store_rate = rule(5, engine.BASE_RATE, name="门店", points=2, priority=10, stores=("SH01",))
    exclusive = rule(
        6,
        engine.MULTIPLIER,
        name="独享",
        multiplier=Decimal(3),
        priority=20,
        stop_further=True,
        channels=("app",),
    )
    rules = [BASE, store_rate, exclusive]
    assert evaluate(facts("10.00", store="SH01"), rules).points == 20  # the store's rate wins
    # The exclusive campaign stops every lower-priority rule, the base rates included.
    assert evaluate(facts("10.00", channel="app"), rules).points == 0
    with_base = [rule(7, engine.BASE_RATE, name="高", points=1, priority=30), *rules]
    assert evaluate(facts("10.00", channel="app"), with_base).points == 30


def test_caps_cut_the_award_to_the_room_left():
    cap = rule(9, engine.CAP, name="每日上限", points=500)
    award = evaluate(facts("1000.00"), [BASE, cap], [CapUsage(rule_id=9, used=300)])
    assert award.points == 200
    assert award.explanation == "消费 ¥1000.00 × 1 积分/元 = 1000; 每日上限（上限 500）→ 200"
    assert award.cap_counts == {9: 200}
    full = evaluate(facts("10.00"), [BASE, cap], [CapUsage(rule_id=9, used=500)])
    assert (full.points, full.cap_counts) == (0, {9: 0})


def test_pending_period_first_matching():
    rules = [
        BASE,
        rule(2, engine.PENDING_PERIOD, name="退货期", days=7),
        rule(3, engine.PENDING_PERIOD, name="门店", days=14, priority=5, stores=("SH01",)),
    ]
    assert evaluate(facts("1.00"), rules).pending_days == 7
    assert evaluate(facts("1.00", store="SH01"), rules).pending_days == 14


def test_no_rules_no_points():
    award = evaluate(facts("100.00"), [])
    assert (award.points, award.explanation) == (0, "")


# --- properties ---------------------------------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False, allow_infinity=False)
factors = st.decimals(min_value=0, max_value=10, places=2, allow_nan=False, allow_infinity=False)
categories = st.sampled_from(["a", "b", "c"])
line_st = st.builds(
    Line,
    sku=st.sampled_from(["s1", "s2", "s3"]),
    category=categories,
    quantity=st.integers(1, 5),
    amount=amounts,
)


@st.composite
def rule_sets(draw):
    rules = []
    for i in range(draw(st.integers(0, 8))):
        kind = draw(
            st.sampled_from(
                sorted(
                    {
                        engine.BASE_RATE,
                        engine.LINE_MULTIPLIER,
                        engine.EXCLUSION,
                        engine.MULTIPLIER,
                        engine.TIER_MULTIPLIER,
                        engine.BIRTHDAY_MULTIPLIER,
                        engine.THRESHOLD_BONUS,
                        engine.FIRST_PURCHASE_BONUS,
                        engine.CAP,
                    }
                )
            )
        )
        rules.append(
            RuleSpec(
                id=i + 1,
                code=f"r{i}",
                version=1,
                name=f"规则{i}",
                kind=kind,
                priority=draw(st.integers(-3, 3)),
                stop_further=draw(st.booleans()),
                points=draw(st.integers(0, 10_000)),
                unit_amount=draw(st.decimals(min_value=Decimal("0.01"), max_value=100, places=2)),
                multiplier=draw(factors),
                categories=tuple(draw(st.lists(categories, max_size=2))),
                min_amount=draw(amounts),
                repeat=draw(st.booleans()),
                weekdays=tuple(draw(st.lists(st.integers(1, 7), max_size=3))),
            )
        )
    return rules


@settings(max_examples=300, deadline=None)
@given(
    rules=rule_sets(),
    lines=st.lists(line_st, max_size=5),
    amount=amounts,
    tier=factors,
    first=st.booleans(),
    used=st.integers(0, 20_000),
    day=st.dates(min_value=dt.date(2025, 1, 1), max_value=dt.date(2027, 12, 31)),
)
def test_properties(rules, lines, amount, tier, first, used, day):
    total = sum((line.amount for line in lines), Decimal(0))
    f = Facts(
        amount=max(amount, total),
        occurred_on=day,
        lines=tuple(lines),
        tier_multiplier=tier,
        tier_name="等级",
        first_purchase=first,
    )
    usage = [CapUsage(rule_id=r.id, used=used) for r in rules if r.kind == engine.CAP]
    award = evaluate(f, rules, usage)
    # never negative
    assert award.points >= 0
    # caps never exceeded: what is counted fits in every cap that applied
    for r in rules:
        if r.kind == engine.CAP and r.id in award.cap_counts:
            assert used + award.cap_counts[r.id] <= max(r.points, used)
            assert award.cap_counts[r.id] == award.points
    # the explanation's arithmetic equals the award
    assert check_arithmetic(award)
    assert sum(step.points for step in award.steps) == award.points
    for step in award.steps:
        if step.kind in (
            engine.THRESHOLD_BONUS,
            engine.FIRST_PURCHASE_BONUS,
            engine.CAP,
            engine.BASE_RATE,
        ):
            assert step.text.endswith(
                str(sum(s.points for s in award.steps[: award.steps.index(step) + 1]))
            )
