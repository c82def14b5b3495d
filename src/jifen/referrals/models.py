"""Referrals (邀请有礼); product codes (一物一码) live in codes_models.py.

Once-only facts are unique constraints, not Python checks:
- one invite code per member (`InviteCode.member`), codes unique;
- one referral per invitee (`Referral.invitee`), so an invitee is rewarded at most once;
- one redemption per product code (a guarded UPDATE of `ProductCode.redeemed_by`), and the
  code's earn posting has the deterministic reference `code:<id>`.
Counters (rewards per referrer per month and in total) change only by guarded UPDATEs.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ReferralProgram(models.Model):
    """The referral rules: one row (pk=1), edited in the back-office.

    `referral_program()` returns it, creating it with these defaults on first use.
    """

    class Trigger(models.TextChoices):
        REGISTER = "register", _("注册后即奖励")
        PURCHASE = "purchase", _("首次消费后奖励")

    enabled = models.BooleanField(_("启用邀请有礼"), default=True)
    referrer_points = models.PositiveIntegerField(_("邀请人奖励积分"), default=50)
    invitee_points = models.PositiveIntegerField(_("被邀请人奖励积分"), default=50)
    trigger = models.CharField(
        _("奖励时机"), max_length=16, choices=Trigger.choices, default=Trigger.REGISTER
    )
    monthly_cap = models.PositiveIntegerField(
        _("每位邀请人每月奖励上限（人）"), default=20, help_text=_("按业务日所在自然月计算")
    )
    lifetime_cap = models.PositiveIntegerField(_("每位邀请人累计奖励上限（人）"), default=200)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("邀请规则")
        verbose_name_plural = _("邀请规则")
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="referral_program_single")]

    def __str__(self) -> str:
        return str(_("邀请规则"))


class InviteCode(models.Model):
    """A member's invite code, and how many of their invitees were rewarded.

    `rewarded_total` is the lifetime counter behind the lifetime cap; it changes only by a
    guarded UPDATE (`rewarded_total < cap`).
    """

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="invite_code",
        verbose_name=_("会员"),
    )
    code = models.CharField(_("邀请码"), max_length=16, unique=True)
    rewarded_total = models.PositiveIntegerField(_("已奖励邀请"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("邀请码")
        verbose_name_plural = _("邀请码")

    def __str__(self) -> str:
        return self.code


class ReferrerMonth(models.Model):
    """Rewarded referrals of one referrer in one business month (the monthly cap)."""

    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    month = models.CharField(max_length=7)  # "2026-11", business month
    rewarded = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["referrer", "month"], name="referrer_month_unique")
        ]


class Referral(models.Model):
    """An invitee who registered with someone's invite code. One per invitee.

    Status flow: pending (waiting for the first qualifying purchase) → rewarded, or →
    review (a shared device, IP or phone: an operator approves → rewarded, or rejects →
    rejected). Refused ones (loop, existing member…) keep the reason and never pay. A
    refund of the qualifying purchase takes a paid reward back (reversed) or refuses a
    referral still in review.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待首次消费")
        REVIEW = "review", _("待审核")
        REWARDED = "rewarded", _("已奖励")
        REJECTED = "rejected", _("已驳回")
        REFUSED = "refused", _("不予奖励")
        REVERSED = "reversed", _("已撤回")

    class Reason(models.TextChoices):
        NONE = "", _("无")
        LOOP = "loop", _("循环邀请")
        EXISTING_MEMBER = "existing_member", _("老会员")
        CAPPED = "capped", _("邀请人已达奖励上限")
        CLOSED = "closed", _("账户已注销")
        REFUNDED = "refunded", _("首单已退款")

    referrer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="referrals_made",
        verbose_name=_("邀请人"),
    )
    invitee = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="referral",
        verbose_name=_("被邀请人"),
    )
    invite_code = models.CharField(_("邀请码"), max_length=16)
    status = models.CharField(_("状态"), max_length=16, choices=Status.choices)
    reason = models.CharField(
        _("原因"), max_length=32, choices=Reason.choices, blank=True, default=""
    )
    # Why an operator should look: e.g. ["same_ip", "same_device"] (see services.FLAG_LABELS).
    flags = models.JSONField(_("风险标记"), default=list, blank=True)
    requires_purchase = models.BooleanField(_("需首次消费"), default=False)
    ip = models.CharField(_("注册 IP"), max_length=64, blank=True)
    device = models.CharField(_("设备标识"), max_length=128, blank=True)
    order_reference = models.CharField(_("首单参考号"), max_length=200, blank=True)
    referrer_points = models.PositiveIntegerField(_("邀请人获得积分"), default=0)
    invitee_points = models.PositiveIntegerField(_("被邀请人获得积分"), default=0)
    created_at = models.DateTimeField(_("注册时间"), auto_now_add=True)
    qualified_at = models.DateTimeField(_("达标时间"), null=True, blank=True)
    rewarded_at = models.DateTimeField(_("奖励时间"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("审核人"),
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("邀请记录")
        verbose_name_plural = _("邀请记录")
        indexes = [
            models.Index(fields=["referrer", "-created_at"], name="referral_referrer_idx"),
            models.Index(fields=["status", "created_at"], name="referral_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(referrer=models.F("invitee")), name="referral_not_self"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk}"


class Fingerprint(models.Model):
    """An IP or device seen for a member (sign-up, opening the invite page).

    Only a keyed hash is stored. A new invitee sharing one with the referrer (or with the
    referrer's other invitees) is flagged for review.
    """

    class Kind(models.TextChoices):
        IP = "ip", "IP"
        DEVICE = "device", _("设备")

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    value_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "kind", "value_hash"], name="fingerprint_unique"
            )
        ]
        indexes = [models.Index(fields=["kind", "value_hash"], name="fingerprint_value_idx")]


from jifen.referrals.codes_models import CodeBatch, ProductCode  # noqa: E402,F401
