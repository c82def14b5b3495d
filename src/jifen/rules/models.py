"""Earning rules, configured by operators, versioned, and the caps' counters.

A rule version is never edited: saving a rule (jifen.rules.services.rule_save) closes the
version in force (`valid_until`) and opens a new one, so a purchase is evaluated by the
versions in force at its `occurred_at`, and its explanation names them.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from jifen.rules import engine


def _csv(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


class Rule(models.Model):
    class Kind(models.TextChoices):
        BASE_RATE = engine.BASE_RATE, _("基础积分率")
        LINE_MULTIPLIER = engine.LINE_MULTIPLIER, _("品类/商品加倍")
        EXCLUSION = engine.EXCLUSION, _("品类/商品不计积分")
        MULTIPLIER = engine.MULTIPLIER, _("活动加倍")
        TIER_MULTIPLIER = engine.TIER_MULTIPLIER, _("等级加倍")
        BIRTHDAY_MULTIPLIER = engine.BIRTHDAY_MULTIPLIER, _("生日加倍")
        THRESHOLD_BONUS = engine.THRESHOLD_BONUS, _("满额赠积分")
        FIRST_PURCHASE_BONUS = engine.FIRST_PURCHASE_BONUS, _("首单奖励")
        CAP = engine.CAP, _("积分上限")
        PENDING_PERIOD = engine.PENDING_PERIOD, _("待生效期")

    class CapScope(models.TextChoices):
        MEMBER = "member", _("每位会员")
        GLOBAL = "global", _("全部会员")

    class CapPeriod(models.TextChoices):
        DAY = "day", _("每天")
        MONTH = "month", _("每月")

    class BirthdayScope(models.TextChoices):
        DAY = "day", _("生日当天")
        MONTH = "month", _("生日当月")

    code = models.SlugField(_("规则编码"), max_length=50)
    version = models.PositiveIntegerField(_("版本"))
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=32, choices=Kind.choices)
    priority = models.IntegerField(_("优先级"), default=0, help_text=_("数字大的先计算"))
    stop_further = models.BooleanField(
        _("阻止后续规则"), default=False, help_text=_("生效时，优先级更低的规则不再计算")
    )
    stores = models.CharField(
        _("适用门店"), max_length=500, blank=True, help_text=_("逗号分隔；空为全部")
    )
    channels = models.CharField(
        _("适用渠道"), max_length=200, blank=True, help_text=_("逗号分隔；空为全部")
    )
    starts_on = models.DateField(_("开始日期"), null=True, blank=True)
    ends_on = models.DateField(_("结束日期"), null=True, blank=True)
    weekdays = models.CharField(
        _("星期"), max_length=20, blank=True, help_text=_("1–7（周一至周日），逗号分隔；空为每天")
    )
    month_days = models.CharField(
        _("每月日期"), max_length=100, blank=True, help_text=_("如会员日 8；逗号分隔")
    )
    points = models.PositiveIntegerField(
        _("积分"),
        default=0,
        help_text=_("基础积分率：每单位金额的积分；满赠/首单：赠送积分；上限：积分上限"),
    )
    unit_amount = models.DecimalField(
        _("单位金额"),
        max_digits=12,
        decimal_places=2,
        default=Decimal("1.00"),
        help_text=_("基础积分率：每多少元"),
    )
    multiplier = models.DecimalField(
        _("倍数"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("1.00"),
        help_text=_("加倍类规则的倍数，结果向下取整"),
    )
    categories = models.CharField(_("品类"), max_length=500, blank=True, help_text=_("逗号分隔"))
    skus = models.CharField(_("商品 SKU"), max_length=1000, blank=True, help_text=_("逗号分隔"))
    min_amount = models.DecimalField(
        _("满额"), max_digits=12, decimal_places=2, default=Decimal("0.00"), help_text=_("满赠门槛")
    )
    repeat = models.BooleanField(_("每满"), default=False, help_text=_("每满门槛赠送一次"))
    birthday_scope = models.CharField(
        _("生日范围"), max_length=8, choices=BirthdayScope.choices, default=BirthdayScope.DAY
    )
    cap_scope = models.CharField(
        _("上限范围"), max_length=8, choices=CapScope.choices, default=CapScope.MEMBER
    )
    cap_period = models.CharField(
        _("上限周期"), max_length=8, choices=CapPeriod.choices, default=CapPeriod.DAY
    )
    days = models.PositiveIntegerField(_("天数"), default=0, help_text=_("待生效期：退货期天数"))
    valid_from = models.DateTimeField(_("版本生效"))
    valid_until = models.DateTimeField(_("版本失效"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("积分规则")
        verbose_name_plural = _("积分规则")
        ordering = ["-priority", "code", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["code", "version"], name="rule_code_version_unique"),
            # One open version per rule: two concurrent saves cannot both stay in force.
            models.UniqueConstraint(
                fields=["code"], condition=Q(valid_until__isnull=True), name="rule_one_open_version"
            ),
            models.CheckConstraint(condition=Q(multiplier__gte=0), name="rule_multiplier_gte_0"),
            models.CheckConstraint(condition=Q(unit_amount__gt=0), name="rule_unit_amount_gt_0"),
        ]
        indexes = [models.Index(fields=["valid_from", "valid_until"], name="rule_validity_idx")]

    def __str__(self) -> str:
        return f"{self.name}（{self.code} v{self.version}）"

    def spec(self) -> engine.RuleSpec:
        return engine.RuleSpec(
            id=self.pk or 0,
            code=self.code,
            version=self.version or 0,
            name=self.name,
            kind=self.kind,
            priority=self.priority,
            stop_further=self.stop_further,
            stores=_csv(self.stores),
            channels=_csv(self.channels),
            starts_on=self.starts_on,
            ends_on=self.ends_on,
            weekdays=tuple(int(day) for day in _csv(self.weekdays)),
            month_days=tuple(int(day) for day in _csv(self.month_days)),
            points=self.points,
            unit_amount=Decimal(self.unit_amount),
            multiplier=Decimal(self.multiplier),
            categories=_csv(self.categories),
            skus=_csv(self.skus),
            min_amount=Decimal(self.min_amount),
            repeat=self.repeat,
            birthday_scope=self.birthday_scope,
            cap_scope=self.cap_scope,
            cap_period=self.cap_period,
            days=self.days,
        )


class RuleCode(models.Model):
    """One row per rule code: the row every save of that rule locks first, so saves of one
    rule (even its very first versions, created at the same moment) queue in order."""

    code = models.SlugField(max_length=50, primary_key=True)


class CapCounter(models.Model):
    """Points a cap rule has let through in one period, for one member or for everyone.

    Changed only under the row's lock by a guarded F() update (jifen.rules.services).
    `member_id` 0 is the global counter (a NULL would defeat the unique constraint).
    """

    rule_code = models.SlugField(max_length=50)
    member_id = models.BigIntegerField(default=0)
    period_start = models.DateField()
    points = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("积分上限计数")
        verbose_name_plural = _("积分上限计数")
        constraints = [
            models.UniqueConstraint(
                fields=["rule_code", "member_id", "period_start"], name="cap_counter_unique"
            ),
            models.CheckConstraint(condition=Q(points__gte=0), name="cap_counter_gte_0"),
        ]


class FirstPurchase(models.Model):
    """The once-only fact "this member's first purchase": the first-purchase bonus's guard."""

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", primary_key=True
    )
    reference = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
