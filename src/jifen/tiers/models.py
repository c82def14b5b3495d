"""Member tiers (会员等级): levels and their benefits, each member's level, its history, notices.

A member qualifies for a level by the points earned (or the amount spent) in a rolling window
(settings.JIFEN_TIER_WINDOW_MONTHS). Upgrades happen at once (`tier_evaluate`); downgrades
only at the member's re-evaluation date (`review_on`), after a notice. Every level change is
a TierChange row. The rows here change only through jifen.tiers.services.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Level(models.Model):
    """A tier and its benefits. The active level with the lowest rank is the base level.

    A member qualifies for a level when either threshold that is set is met: `min_points`
    (points earned in the window) or `min_spend` (amount spent in the window). A threshold
    left empty is not a way into that level; the base level needs none.
    """

    class Style(models.TextChoices):
        PLAIN = "plain", _("普通")
        SILVER = "silver", _("银色")
        GOLD = "gold", _("金色")
        DIAMOND = "diamond", _("钻石")
        RED = "red", _("红色")

    code = models.SlugField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=32)
    rank = models.PositiveSmallIntegerField(_("等级序号"), unique=True)
    style = models.CharField(_("卡面样式"), max_length=16, choices=Style.choices, default="plain")
    min_points = models.BigIntegerField(_("积分门槛"), null=True, blank=True)
    min_spend = models.DecimalField(
        _("消费金额门槛"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    # Benefits.
    earn_multiplier = models.DecimalField(_("积分倍率"), max_digits=4, decimal_places=2, default=1)
    mall_discount = models.DecimalField(
        _("商城折扣"), max_digits=3, decimal_places=2, default=1, help_text=_("0.95 即 9.5 折")
    )
    extra_draws = models.PositiveSmallIntegerField(_("每日额外抽奖次数"), default=0)
    birthday_points = models.PositiveIntegerField(_("生日礼积分"), default=0)
    free_shipping = models.BooleanField(_("包邮"), default=False)
    exclusive_items = models.BooleanField(_("可兑换专享商品"), default=False)
    boost_days = models.PositiveSmallIntegerField(_("升级加速天数"), default=0)
    boost_multiplier = models.DecimalField(
        _("升级加速倍率"), max_digits=4, decimal_places=2, default=2
    )
    is_active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("会员等级")
        verbose_name_plural = _("会员等级")
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=Q(min_points__isnull=True) | Q(min_points__gt=0),
                name="level_min_points_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(min_spend__isnull=True) | Q(min_spend__gt=0),
                name="level_min_spend_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(earn_multiplier__gte=1), name="level_earn_multiplier_gte_1"
            ),
            models.CheckConstraint(
                condition=Q(mall_discount__gt=0) & Q(mall_discount__lte=1),
                name="level_mall_discount_0_1",
            ),
            models.CheckConstraint(
                condition=Q(boost_multiplier__gte=1), name="level_boost_multiplier_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MemberTier(models.Model):
    """A member's current level. Created on the member's first evaluation.

    `review_on` is the business day the level is re-evaluated (None on the base level: there
    is nothing to lose). Between `boost_from` and `boost_until` (inclusive) earnings are
    multiplied by `boost_multiplier` on top of the level's multiplier (upgrade acceleration).
    """

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tier",
        verbose_name=_("会员"),
    )
    level = models.ForeignKey(
        Level, on_delete=models.PROTECT, related_name="+", verbose_name=_("等级")
    )
    since = models.DateField(_("获得日期"))
    review_on = models.DateField(_("下次评定日"), null=True, blank=True, db_index=True)
    boost_from = models.DateField(_("加速开始"), null=True, blank=True)
    boost_until = models.DateField(_("加速截止"), null=True, blank=True)
    boost_multiplier = models.DecimalField(_("加速倍率"), max_digits=4, decimal_places=2, default=1)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("会员当前等级")
        verbose_name_plural = _("会员当前等级")
        constraints = [
            models.CheckConstraint(
                condition=Q(boost_multiplier__gte=1), name="member_tier_boost_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member} · {self.level}"


class TierChange(models.Model):
    """One change of a member's level: who (an operator, or the system), why, from, to."""

    class Reason(models.TextChoices):
        UPGRADE = "upgrade", _("达标升级")
        REVIEW = "review", _("定期评定")
        MANUAL_REVIEW = "manual_review", _("人工评定")
        MANUAL = "manual", _("人工调整")
        REVERT = "revert", _("退款撤销升级")

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tier_changes",
        verbose_name=_("会员"),
    )
    from_level = models.ForeignKey(
        Level,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("原等级"),
    )
    to_level = models.ForeignKey(
        Level, on_delete=models.PROTECT, related_name="+", verbose_name=_("新等级")
    )
    reason = models.CharField(_("原因"), max_length=16, choices=Reason.choices)
    explanation = models.CharField(_("说明"), max_length=500, blank=True)
    points_earned = models.BigIntegerField(_("窗口内获得积分"), default=0)
    amount_spent = models.DecimalField(
        _("窗口内消费金额"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    business_date = models.DateField(_("日期"))
    # The member's row before the change, so an upgrade undone by a refund restores them.
    since_before = models.DateField(_("原获得日期"), null=True, blank=True)
    review_on_before = models.DateField(_("原评定日"), null=True, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("等级变更记录")
        verbose_name_plural = _("等级变更记录")
        ordering = ["-pk"]
        indexes = [models.Index(fields=["member", "-id"], name="tier_change_member_idx")]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_level_id} → {self.to_level_id}"


class TierNotice(models.Model):
    """A warning that the member's level will drop at `review_on` unless they qualify again.

    Written once per member and review date (unique), settings.JIFEN_TIER_NOTICE_DAYS before it.
    """

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="tier_notices",
        verbose_name=_("会员"),
    )
    review_on = models.DateField(_("评定日"))
    level = models.ForeignKey(
        Level, on_delete=models.PROTECT, related_name="+", verbose_name=_("当前等级")
    )
    projected_level = models.ForeignKey(
        Level, on_delete=models.PROTECT, related_name="+", verbose_name=_("预计等级")
    )
    points_needed = models.BigIntegerField(_("保级还需积分"), null=True, blank=True)
    spend_needed = models.DecimalField(
        _("保级还需消费"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("降级提醒")
        verbose_name_plural = _("降级提醒")
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(fields=["member", "review_on"], name="tier_notice_once"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} @ {self.review_on}"
