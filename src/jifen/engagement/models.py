"""Daily check-in, tasks and sharing.

Once-only facts are unique constraints, not checks in Python:
- one check-in per member per business day: (member, day);
- a task completes at most `cap` times per period: a completion takes one numbered slot
  (task, member, period, slot) with 1 <= slot <= cap;
- one award per evidence: (task, member, reference);
- at most N rewarded shares a day: a rewarded share takes a slot (member, day, slot), and one
  target is rewarded once a day: (member, day, target) among rewarded shares.
Make-up cards (补签卡) are a counter on `MemberEngagement`, changed only by guarded UPDATEs
and kept non-negative by a CHECK; each grant is a row with a unique reference.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


def default_checkin_rewards() -> list[int]:
    return [1, 2, 3, 4, 5, 6, 7]


def default_checkin_bonuses() -> dict[str, int]:
    return {"7": 20, "30": 100}


class EngagementConfig(models.Model):
    """The operators' settings for check-in and sharing: one row (pk=1).

    `checkin_rewards[n-1]` is the reward of the n-th consecutive day; past the end of the
    table the last value repeats ([1, 2, …, 7] means day 7 and every later day earn 7).
    `checkin_bonuses` maps a streak length to a one-off bonus paid the day the streak
    reaches it. On Saturdays and Sundays the daily reward (not the bonus) is multiplied by
    `weekend_factor`, rounded down to whole points.
    """

    checkin_enabled = models.BooleanField(_("开启签到"), default=True)
    checkin_rewards = models.JSONField(
        _("连续签到奖励表"),
        default=default_checkin_rewards,
        help_text=_("第 n 天的积分，如 [1, 2, 3, 4, 5, 6, 7]；超过表长按最后一项计。"),
    )
    checkin_bonuses = models.JSONField(
        _("连续签到额外奖励"),
        default=default_checkin_bonuses,
        blank=True,
        help_text=_('连续天数 → 额外积分，如 {"7": 20, "30": 100}。'),
    )
    weekend_factor = models.DecimalField(
        _("周末倍数"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("2.00"),
        help_text=_("周六、周日的每日签到积分乘以此倍数（向下取整）；1 表示不加倍。"),
    )
    makeup_enabled = models.BooleanField(_("允许补签"), default=True)
    share_points = models.PositiveIntegerField(_("每次分享积分"), default=5)
    share_daily_cap = models.PositiveIntegerField(_("每日分享奖励次数"), default=3)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("更新人"),
    )

    class Meta:
        verbose_name = _("签到与分享设置")
        verbose_name_plural = _("签到与分享设置")
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="engagement_config_single_row"),
            models.CheckConstraint(
                condition=Q(weekend_factor__gte=1), name="engagement_weekend_factor_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return str(_("签到与分享设置"))


class MemberEngagement(models.Model):
    """Per-member state: the make-up cards held. Its row is also the member's lock for
    check-in, task and share writes (taken with select_for_update before anything else)."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="engagement",
        verbose_name=_("会员"),
    )
    makeup_cards = models.IntegerField(_("补签卡"), default=0)

    class Meta:
        verbose_name = _("会员签到状态")
        verbose_name_plural = _("会员签到状态")
        constraints = [
            models.CheckConstraint(
                condition=Q(makeup_cards__gte=0), name="engagement_makeup_cards_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}"


class Checkin(models.Model):
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="checkins",
        verbose_name=_("会员"),
    )
    day = models.DateField(_("签到日"))
    streak = models.PositiveIntegerField(_("连续天数"))
    points = models.PositiveIntegerField(_("签到积分"), default=0)
    bonus = models.PositiveIntegerField(_("额外奖励"), default=0)
    is_makeup = models.BooleanField(_("补签"), default=False)
    reference = models.CharField(_("参考号"), max_length=200)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("签到记录")
        verbose_name_plural = _("签到记录")
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["member", "day"], name="checkin_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.day}"


class MakeupCardGrant(models.Model):
    """Make-up cards given to a member (by a task, or an operator); once per reference."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="makeup_card_grants",
        verbose_name=_("会员"),
    )
    cards = models.PositiveIntegerField(_("张数"))
    reference = models.CharField(_("参考号"), max_length=200, unique=True)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("发放人"),
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("补签卡发放")
        verbose_name_plural = _("补签卡发放")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.member_id} +{self.cards}"


class Task(models.Model):
    class Evidence(models.TextChoices):
        PROFILE_COMPLETE = "profile_complete", _("完善资料")
        PHONE_BOUND = "phone_bound", _("绑定手机")
        EVENT = "event", _("外部事件")

    class Period(models.TextChoices):
        DAY = "day", _("每天")
        WEEK = "week", _("每周")
        LIFETIME = "lifetime", _("终身")

    code = models.SlugField(_("代码"), max_length=50, unique=True)
    title = models.CharField(_("名称"), max_length=100)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    evidence = models.CharField(_("完成依据"), max_length=20, choices=Evidence.choices)
    action = models.CharField(
        _("事件动作"),
        max_length=50,
        blank=True,
        help_text=_("外部事件的动作名，如 purchase、survey_completed、review_posted、share。"),
    )
    required_details = models.JSONField(
        _("事件条件"),
        default=dict,
        blank=True,
        help_text=_('事件详情须包含的键值，如 {"has_photo": true}。'),
    )
    points = models.PositiveIntegerField(_("奖励积分"), default=0)
    makeup_cards = models.PositiveIntegerField(_("奖励补签卡"), default=0)
    period = models.CharField(_("频次周期"), max_length=10, choices=Period.choices)
    cap = models.PositiveIntegerField(_("每周期次数"), default=1)
    starts_at = models.DateTimeField(_("开始时间"), null=True, blank=True)
    ends_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    sort_order = models.IntegerField(_("排序"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("任务")
        verbose_name_plural = _("任务")
        ordering = ["sort_order", "id"]
        indexes = [models.Index(fields=["action", "is_active"], name="task_action_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(cap__gte=1), name="task_cap_gte_1"),
        ]

    def __str__(self) -> str:
        return self.title


class TaskCompletion(models.Model):
    task = models.ForeignKey(
        Task, on_delete=models.PROTECT, related_name="completions", verbose_name=_("任务")
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="task_completions",
        verbose_name=_("会员"),
    )
    period_key = models.CharField(_("周期"), max_length=20)
    slot = models.PositiveIntegerField(_("序号"))
    reference = models.CharField(_("依据参考号"), max_length=200)
    points = models.PositiveIntegerField(_("积分"), default=0)
    makeup_cards = models.PositiveIntegerField(_("补签卡"), default=0)
    occurred_at = models.DateTimeField(_("发生时间"))
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("任务完成记录")
        verbose_name_plural = _("任务完成记录")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["task", "member", "period_key", "slot"], name="task_completion_slot"
            ),
            models.UniqueConstraint(
                fields=["task", "member", "reference"], name="task_completion_once_per_evidence"
            ),
            models.CheckConstraint(condition=Q(slot__gte=1), name="task_completion_slot_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.task_id} {self.member_id} {self.period_key}#{self.slot}"


class Share(models.Model):
    class Channel(models.TextChoices):
        WECHAT = "wechat", _("微信")
        WEIBO = "weibo", _("微博")
        LINK = "link", _("复制链接")

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="shares",
        verbose_name=_("会员"),
    )
    target = models.CharField(_("分享内容"), max_length=120)
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    day = models.DateField(_("日期"))
    # 1..N for a rewarded share; null when the day's cap was reached or the target repeated.
    slot = models.PositiveIntegerField(_("奖励序号"), null=True, blank=True)
    points = models.PositiveIntegerField(_("积分"), default=0)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("分享记录")
        verbose_name_plural = _("分享记录")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["member", "day", "slot"], name="share_reward_slot"),
            models.UniqueConstraint(
                fields=["member", "day", "target"],
                condition=Q(slot__isnull=False),
                name="share_reward_once_per_target",
            ),
        ]
        indexes = [models.Index(fields=["member", "day"], name="share_member_day_idx")]

    def __str__(self) -> str:
        return f"{self.member_id} {self.target}"
