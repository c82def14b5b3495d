"""Writes of tiers: upgrades, scheduled reviews, downgrade notices, birthday gifts, levels.

Guarantees:
- A level changes only by a guarded UPDATE of the member's MemberTier row
  (`WHERE level_id = <the level we read>`), so two concurrent evaluations change it once and
  write one TierChange; a review locks the row (select_for_update) for its decision.
- Upgrades happen at once (`tier_evaluate`); downgrades only at a review
  (`tier_review`), never below what the downgrade policy allows.
- The birthday gift is a ledger earning with the reference
  `tier:birthday:<member id>:<year>`: once per member and year, however often the job runs.
- A downgrade notice is once per member and review date (unique constraint).

Errors raised: NotFound (unknown member, no active level), ValidationFailed (bad level data).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _

from jifen.core import clock
from jifen.core.errors import Conflict, NotFound, ValidationFailed
from jifen.ledger.models import Transaction
from jifen.ledger.services import points_earn
from jifen.tiers import selectors
from jifen.tiers.models import Level, MemberTier, TierChange, TierNotice
from jifen.tiers.selectors import Totals

logger = logging.getLogger(__name__)
Reason = TierChange.Reason


def _levels() -> list[Level]:
    """The active levels, lowest first; the jobs and evaluations do nothing without any."""
    return selectors.levels_active()


def _next_review(level: Level, levels: list[Level], day: dt.date) -> dt.date | None:
    """When a level reached on `day` is re-evaluated; None on the base level."""
    if level.rank <= levels[0].rank:
        return None
    return selectors.add_months(day, selectors.review_months())


def _member_tier_row(member_id: int, levels: list[Level], today: dt.date, *, lock: bool):
    """The member's MemberTier row, created on the base level the first time."""
    query = MemberTier.objects.select_related("level").filter(member_id=member_id)
    if lock:
        query = query.select_for_update(of=("self",))
    row = query.first()
    if row is not None:
        return row
    from jifen.members.models import User

    if not User.objects.filter(pk=member_id).exists():
        raise NotFound(_("会员不存在。"), code="member_not_found")
    try:
        with transaction.atomic():
            MemberTier.objects.create(member_id=member_id, level=levels[0], since=today)
    except IntegrityError:  # created concurrently: use theirs
        pass
    return query.get()


def _explain(totals: Totals, target: Level) -> str:
    spend = "—" if totals.spend is None else f"{totals.spend:,}"
    return _("%(first)s 至 %(last)s 获得积分 %(points)s，消费金额 %(spend)s；评定为%(level)s。") % {
        "first": totals.window.first.isoformat(),
        "last": totals.window.last.isoformat(),
        "points": f"{totals.points:,}",
        "spend": spend,
        "level": target.name,
    }


def _change(
    *,
    row: MemberTier,
    target: Level,
    levels: list[Level],
    reason: str,
    totals: Totals | None,
    today: dt.date,
    changed_by_id: int | None = None,
    explanation: str = "",
    restore: TierChange | None = None,
) -> TierChange | None:
    """Move the member from `row.level` to `target`: one guarded UPDATE, one TierChange.

    The new level starts a review period today, or, with `restore` (an upgrade being
    undone), gets back the dates it had before that upgrade. An upgrade starts the
    target's acceleration (if it has one); a downgrade ends any. Returns None when the
    level was changed by someone else since it was read.
    """
    current = row.level
    updates: dict = {
        "level": target,
        "since": today,
        "review_on": _next_review(target, levels, today),
    }
    if restore is not None and restore.since_before is not None:
        updates.update(since=restore.since_before, review_on=restore.review_on_before)
    if target.rank > current.rank:
        # Acceleration rewards qualifying; a level an operator sets does not start one.
        if target.boost_days and reason != Reason.MANUAL:
            updates.update(
                boost_from=today,
                boost_until=today + dt.timedelta(days=target.boost_days - 1),
                boost_multiplier=target.boost_multiplier,
            )
    else:
        updates.update(boost_from=None, boost_until=None, boost_multiplier=Decimal(1))
    if MemberTier.objects.filter(pk=row.pk, level_id=current.pk).update(**updates) != 1:
        return None
    return TierChange.objects.create(
        member_id=row.member_id,
        from_level=current,
        to_level=target,
        reason=reason,
        explanation=explanation or (_explain(totals, target) if totals else ""),
        points_earned=totals.points if totals else 0,
        amount_spent=totals.spend if totals else None,
        changed_by_id=changed_by_id,
        business_date=today,
        since_before=row.since,
        review_on_before=row.review_on,
    )


@transaction.atomic
def tier_evaluate(
    *, member_id: int, today: dt.date | None = None, after_reversal: bool = False
) -> TierChange | None:
    """Upgrade the member at once if the window ending today reaches a higher level.

    Call it after a posting that may qualify the member (an earning, a purchase). Cheap
    and idempotent: on the top level it reads one row; otherwise it adds the window's
    totals (two or three aggregate queries) and changes nothing unless a higher level is
    reached. Otherwise never downgrades (that is the review's job), except:

    `after_reversal=True` (call it after a refund or any reversal of earned points) also
    undoes upgrades the member no longer qualifies for, so buying, upgrading and returning
    the goods does not keep the level (the buy–refund loop). Only the latest run of
    upgrades by qualification within the window is undone, never below the level held
    before it, and that level gets back its dates; a level kept at a review, set by an
    operator or reached before the window stays until its review.

    Returns the TierChange or None. Raises NotFound for an unknown member.
    """
    today = today or clock.business_date()
    levels = _levels()
    if not levels:
        return None
    row = _member_tier_row(member_id, levels, today, lock=False)
    if after_reversal:
        reverted = _revert_unearned_upgrades(row, levels, today)
        if reverted is not None:
            return reverted
    higher = [level for level in levels if level.rank > row.level.rank]
    if not higher:
        return None
    with_spend = any(level.min_spend is not None for level in higher)
    totals = selectors.qualification_totals(
        member_id, selectors.window_ending(today), with_spend=with_spend
    )
    target = selectors.qualified_level(levels, totals)
    if target.rank <= row.level.rank:
        return None
    return _change(
        row=row, target=target, levels=levels, reason=Reason.UPGRADE, totals=totals, today=today
    )


def _revert_unearned_upgrades(
    row: MemberTier, levels: list[Level], today: dt.date
) -> TierChange | None:
    window = selectors.window_ending(today)
    chain: list[TierChange] = []  # the latest consecutive upgrades in the window, newest first
    expected = row.level_id
    for change in (
        TierChange.objects.select_related("from_level")
        .filter(member_id=row.member_id)
        .order_by("-pk")[:20]
    ):
        if (
            change.reason != Reason.UPGRADE
            or change.to_level_id != expected
            or change.business_date < window.first
            or change.from_level is None
        ):
            break
        chain.append(change)
        expected = change.from_level_id
    if not chain:
        return None
    totals = selectors.qualification_totals(row.member_id, window)
    qualified = selectors.qualified_level(levels, totals)
    if qualified.rank >= row.level.rank:
        return None
    floor = chain[-1].from_level
    target = floor if floor.is_active and floor.rank > qualified.rank else qualified
    # The dates of the level being returned to, if it is one the chain started from.
    restore = next((c for c in chain if c.from_level_id == target.pk), None)
    return _change(
        row=row,
        target=target,
        levels=levels,
        reason=Reason.REVERT,
        totals=totals,
        today=today,
        restore=restore,
    )


@transaction.atomic
def tier_review(
    *,
    member_id: int,
    today: dt.date | None = None,
    changed_by_id: int | None = None,
    manual: bool = False,
) -> TierChange | None:
    """Re-evaluate the member's level: up to the qualified level, or down by the policy.

    Scheduled (`manual=False`): only when the review date has come (review_on <= today),
    so a second run the same day does nothing; a member who keeps the level gets the next
    review date (one review period later). Manual (an operator): at once, whatever the
    date, recorded with the operator; keeping the level leaves the review date as it is.
    A member a review moved down today is not moved down again the same day (a double
    click, a retry). The row is locked for the decision. Returns the TierChange or None.
    """
    today = today or clock.business_date()
    levels = _levels()
    if not levels:
        return None
    row = _member_tier_row(member_id, levels, today, lock=True)
    if not manual and (row.review_on is None or row.review_on > today):
        return None
    totals = selectors.qualification_totals(member_id, selectors.window_ending(today))
    current = row.level
    target = selectors.review_target(levels, current, selectors.qualified_level(levels, totals))
    if target.rank < current.rank and _reviewed_down_today(row, today):
        return None  # a repeated click or retry must not drop a second level
    if target.pk != current.pk:
        return _change(
            row=row,
            target=target,
            levels=levels,
            reason=Reason.MANUAL_REVIEW if manual else Reason.REVIEW,
            totals=totals,
            today=today,
            changed_by_id=changed_by_id,
        )
    if not manual and row.review_on is not None:
        following = selectors.add_months(row.review_on, selectors.review_months())
        if following <= today:  # the job was not run for a whole period
            following = selectors.add_months(today, selectors.review_months())
        MemberTier.objects.filter(pk=row.pk).update(review_on=following)
    return None


def _reviewed_down_today(row: MemberTier, today: dt.date) -> bool:
    """Whether a review already moved the member down to the current level today."""
    return TierChange.objects.filter(
        member_id=row.member_id,
        business_date=today,
        to_level_id=row.level_id,
        reason__in=(Reason.REVIEW, Reason.MANUAL_REVIEW),
        from_level__rank__gt=row.level.rank,
    ).exists()


def tiers_review_due(*, today: dt.date | None = None, batch_size: int = 500) -> int:
    """Review every member whose review date has come; returns how many levels changed.

    Each member is reviewed in its own transaction, so one failure does not undo the
    others and locks stay short. Safe to run twice or concurrently.
    """
    today = today or clock.business_date()
    changed = 0
    after = 0
    while True:
        ids = list(
            MemberTier.objects.filter(review_on__lte=today, pk__gt=after)
            .order_by("pk")
            .values_list("pk", "member_id")[:batch_size]
        )
        if not ids:
            return changed
        for pk, member_id in ids:
            after = pk
            try:
                if tier_review(member_id=member_id, today=today):
                    changed += 1
            except Exception:  # one broken member must not stop the others
                logger.exception("tier review of member %s failed", member_id)


@transaction.atomic
def tier_set(
    *,
    member_id: int,
    level_code: str,
    reason: str,
    changed_by_id: int,
    today: dt.date | None = None,
) -> TierChange | None:
    """An operator puts the member on a level, with a reason (a compensation, a correction).

    The new level starts a review period like any other change, but no upgrade
    acceleration (that rewards qualifying). Raises NotFound for an unknown level or member,
    ValidationFailed without a reason. None if already there.
    """
    today = today or clock.business_date()
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            _("请填写原因。"), code="reason_required", fields={"reason": "required"}
        )
    levels = _levels()
    target = next((level for level in levels if level.code == level_code), None)
    if target is None:
        raise NotFound(
            _("等级不存在或未启用。"), code="level_not_found", fields={"level": level_code}
        )
    row = _member_tier_row(member_id, levels, today, lock=True)
    if row.level_id == target.pk:
        return None
    return _change(
        row=row,
        target=target,
        levels=levels,
        reason=Reason.MANUAL,
        totals=None,
        today=today,
        changed_by_id=changed_by_id,
        explanation=reason[:500],
    )


# --- notices --------------------------------------------------------------------------------


def tier_notices_send(*, today: dt.date | None = None, batch_size: int = 500) -> int:
    """Warn members whose level will drop at a review within JIFEN_TIER_NOTICE_DAYS.

    The projection counts what the member earned in the window ending on the review date
    (so far): it only grows as the member earns, so a member not warned today will not
    fall short later except through a reversal. Once per member and review date; returns
    how many notices were written.
    """
    today = today or clock.business_date()
    horizon = today + dt.timedelta(days=selectors.notice_days())
    levels = _levels()
    if not levels:
        return 0
    written = 0
    after = 0
    notified = TierNotice.objects.filter(
        member_id=OuterRef("member_id"), review_on=OuterRef("review_on")
    )
    while True:
        rows = list(
            MemberTier.objects.select_related("level")
            .filter(review_on__gt=today, review_on__lte=horizon, pk__gt=after)
            .exclude(Exists(notified))
            .order_by("pk")[:batch_size]
        )
        if not rows:
            return written
        for row in rows:
            after = row.pk
            if _notice_write(row, levels):
                written += 1


def _notice_write(row: MemberTier, levels: list[Level]) -> bool:
    totals = selectors.qualification_totals(row.member_id, selectors.window_ending(row.review_on))
    target = selectors.review_target(levels, row.level, selectors.qualified_level(levels, totals))
    if target.rank >= row.level.rank:
        return False
    points, spend = selectors.keep_gaps(row.level, totals)
    try:
        with transaction.atomic():
            TierNotice.objects.create(
                member_id=row.member_id,
                review_on=row.review_on,
                level=row.level,
                projected_level=target,
                points_needed=points,
                spend_needed=spend,
            )
    except IntegrityError:  # written by a concurrent run
        return False
    return True


# --- birthday gift ------------------------------------------------------------------------


def birthday_reference(member_id: int, year: int) -> str:
    return f"tier:birthday:{member_id}:{year}"


def _birthdays_on(today: dt.date) -> Q:
    query = Q(birthday__month=today.month, birthday__day=today.day)
    is_leap = today.year % 4 == 0 and (today.year % 100 != 0 or today.year % 400 == 0)
    if today.month == 2 and today.day == 28 and not is_leap:
        query |= Q(birthday__month=2, birthday__day=29)  # 29 February, in common years
    return query


def tier_birthday_gifts(*, today: dt.date | None = None, batch_size: int = 500) -> int:
    """Post the level's birthday points to each member whose birthday is today.

    Members born on 29 February get theirs on 28 February in common years. One earning
    per member and year (reference `tier:birthday:<id>:<year>`): a second run, concurrent
    or not, finds the reference taken and posts nothing, even if the level changed in
    between. Closed accounts get nothing. Returns how many gifts were posted (a gift a
    concurrent run posted at the same instant may be counted by both runs; the ledger has
    it once).
    """
    from jifen.members.models import User

    today = today or clock.business_date()
    levels = _levels()
    if not levels:
        return 0
    base = levels[0]
    has_gift = Q(tier__level__birthday_points__gt=0)
    if base.birthday_points > 0:
        has_gift |= Q(tier__isnull=True)
    members = (
        User.objects.filter(_birthdays_on(today), has_gift, is_active=True, closed_at__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    posted = 0
    after = 0
    while True:
        ids = list(members.filter(pk__gt=after)[:batch_size])
        if not ids:
            return posted
        for member_id in ids:
            after = member_id
            try:
                if _birthday_gift(member_id, today):
                    posted += 1
            except Exception:  # one broken member must not stop the others
                logger.exception("birthday gift of member %s failed", member_id)


@transaction.atomic
def _birthday_gift(member_id: int, today: dt.date) -> bool:
    reference = birthday_reference(member_id, today.year)
    if Transaction.objects.filter(reference=reference).exists():
        return False
    tier = selectors.member_tier(member_id)
    points = tier.benefits.birthday_points
    if points <= 0:
        return False
    try:
        points_earn(
            member_id=member_id,
            points=points,
            source=selectors.BIRTHDAY_SOURCE,
            reference=reference,
            explanation=_("%(level)s生日礼") % {"level": tier.name},
            details={"tier": tier.code, "year": today.year},
        )
    except Conflict:  # a concurrent run posted it with another level's amount
        return False
    return True


# --- levels ---------------------------------------------------------------------------------


def level_check(*, level: Level, others: list[Level] | None = None) -> None:
    """Raise ValidationFailed unless `level` (with its unsaved changes) fits among the others.

    Rules: field constraints (multipliers >= 1, discount in (0, 1], thresholds > 0, unique
    code and rank); a level above the base needs a points or spend threshold; thresholds
    rise with rank on each basis, so a higher level is never easier to reach; at least one
    level stays active.
    """
    from django.core.exceptions import ValidationError

    try:
        level.full_clean()
    except ValidationError as error:
        raise ValidationFailed(
            _("等级设置不正确。"),
            code="invalid_level",
            fields={name: [str(m) for m in msgs] for name, msgs in error.message_dict.items()},
        ) from None
    if others is None:
        others = list(Level.objects.all())
    others = [other for other in others if level.pk is None or other.pk != level.pk]
    active = [other for other in others if other.is_active]
    if level.is_active:
        active.append(level)
    active.sort(key=lambda item: item.rank)
    if not active:
        raise ValidationFailed(
            _("至少保留一个启用的等级。"), code="no_active_level", fields={"is_active": "required"}
        )
    for lower, higher in zip(active, active[1:], strict=False):
        if higher.min_points is None and higher.min_spend is None:
            raise ValidationFailed(
                _("“%(name)s”需要设置积分门槛或消费金额门槛。") % {"name": higher.name},
                code="level_threshold_required",
                fields={"min_points": "required"},
            )
        for name in ("min_points", "min_spend"):
            low, high = getattr(lower, name), getattr(higher, name)
            if low is not None and high is not None and high <= low:
                raise ValidationFailed(
                    _("“%(higher)s”的门槛必须高于“%(lower)s”。")
                    % {"higher": higher.name, "lower": lower.name},
                    code="level_threshold_order",
                    fields={name: "must rise with rank"},
                )


@transaction.atomic
def level_save(*, level: Level) -> Level:
    """Create or change a level after `level_check`, with every level locked (ascending pk)
    so two operators' edits cannot each pass alone and break the order together.

    Members keep their level until their review (a raised threshold does not downgrade
    anyone at once; a deactivated level is left at the review). Raises ValidationFailed.
    """
    others = list(Level.objects.select_for_update().order_by("pk"))
    level_check(level=level, others=[other for other in others if other.pk != level.pk])
    level.save()
    return level


def tier_evaluate_after_commit(*, member_id: int, after_reversal: bool = False) -> None:
    """Check the member's level once the current transaction commits (after points moved).

    Apps that post earnings or reversals call this; the check runs as a Celery task (inline
    without a broker), outside the posting's transaction and its locks.
    """
    from jifen.tiers.tasks import tier_evaluate_task

    transaction.on_commit(lambda: tier_evaluate_task.delay(member_id, after_reversal))
