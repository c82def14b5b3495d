"""The points ledger: accounts, transactions, entries, lots, holds (docs/adr/0001-ledger.md).

Sign convention: a member wallet is what the company owes the member, so credits to a
member are positive entries on the wallet; the matching entry is negative on an issuance
(source) account. Every transaction's entries sum to zero (I1). Rows here are append-only
except the cached balances on wallets, the remaining amount of lots and the state of holds,
which change only through guarded single-statement UPDATEs in jifen.ledger.services.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Account(models.Model):
    class Kind(models.TextChoices):
        WALLET = "wallet", _("会员钱包")
        ISSUANCE = "issuance", _("发放来源")
        REDEMPTION = "redemption", _("兑换去向")
        EXPIRY = "expiry", _("过期")

    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    # System accounts are named ("issuance:purchase"); wallets have no code.
    code = models.CharField(_("编码"), max_length=64, null=True, blank=True, unique=True)
    member = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="wallet",
        verbose_name=_("会员"),
    )
    # Cached balances: wallets only. System accounts keep none (that row would serialise
    # every posting); their balance is the sum of their entries.
    available = models.BigIntegerField(_("可用"), default=0)
    pending = models.BigIntegerField(_("待生效"), default=0)
    held = models.BigIntegerField(_("冻结"), default=0)
    # Points the member owes: taken back by a refund after they were spent (refund policy
    # "debt"). Entries in the DEBT bucket are negative while owed; earnings repay them first.
    debt = models.BigIntegerField(_("欠款"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("账户")
        verbose_name_plural = _("账户")
        constraints = [
            models.CheckConstraint(condition=Q(available__gte=0), name="account_available_gte_0"),
            models.CheckConstraint(condition=Q(pending__gte=0), name="account_pending_gte_0"),
            models.CheckConstraint(condition=Q(held__gte=0), name="account_held_gte_0"),
            models.CheckConstraint(condition=Q(debt__gte=0), name="account_debt_gte_0"),
            models.CheckConstraint(
                condition=(
                    Q(kind="wallet", member__isnull=False, code__isnull=True)
                    | (~Q(kind="wallet") & Q(member__isnull=True, code__isnull=False))
                ),
                name="account_wallet_has_member_system_has_code",
            ),
        ]

    def __str__(self) -> str:
        if self.code:
            return self.code
        return _("会员 %(member)s 的钱包") % {"member": self.member_id}


class Bucket(models.TextChoices):
    """Which part of an account an entry moves. System accounts use MAIN only."""

    MAIN = "main", _("主")
    AVAILABLE = "available", _("可用")
    PENDING = "pending", _("待生效")
    HELD = "held", _("冻结")
    DEBT = "debt", _("欠款")  # cached as Account.debt = minus the sum of these entries


class Transaction(models.Model):
    class Kind(models.TextChoices):
        EARN = "earn", _("获得")
        SPEND = "spend", _("消费")
        HOLD = "hold", _("冻结")
        CAPTURE = "capture", _("扣除冻结")
        RELEASE = "release", _("解冻")
        TRANSFER = "transfer", _("转赠")
        ADJUST = "adjust", _("调整")
        EXPIRE = "expire", _("过期")
        MATURE = "mature", _("生效")
        REVERSAL = "reversal", _("冲正")

    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    # The unique reference is what makes every posting once-only (invariant I5).
    reference = models.CharField(_("唯一参考号"), max_length=200, unique=True)
    explanation = models.TextField(_("说明"), blank=True)
    details = models.JSONField(_("明细"), default=dict, blank=True)
    # The member(s) concerned, for history lookups and for distribution by member.
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("会员"),
    )
    # Set on few transactions: indexed only where set (Meta.indexes), which keeps every
    # other posting from writing an index entry for NULL.
    counterparty = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("对方"),
        db_index=False,
    )
    # A transaction may be reversed in parts; the reversals' points never exceed its size.
    reverses = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversals",
        verbose_name=_("冲正的交易"),
        db_index=False,
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
        db_index=False,
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("交易")
        verbose_name_plural = _("交易")
        indexes = [
            models.Index(fields=["kind", "created_at"], name="txn_kind_created_idx"),
            models.Index(
                fields=["counterparty"],
                name="txn_counterparty_idx",
                condition=Q(counterparty__isnull=False),
            ),
            models.Index(
                fields=["reverses"], name="txn_reverses_idx", condition=Q(reverses__isnull=False)
            ),
            models.Index(
                fields=["created_by"],
                name="txn_created_by_idx",
                condition=Q(created_by__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference}"


class Entry(models.Model):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    # Indexed by entry_account_bucket_idx (account first): a second index would only cost.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    bucket = models.CharField(max_length=16, choices=Bucket.choices)
    amount = models.BigIntegerField()
    member_id = models.BigIntegerField(null=True, blank=True)  # the wallet's member, if any
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("分录")
        verbose_name_plural = _("分录")
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_nonzero")]
        indexes = [
            models.Index(fields=["account", "bucket"], name="entry_account_bucket_idx"),
            models.Index(fields=["member_id", "-transaction"], name="entry_member_txn_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.bucket} {self.amount:+d}"


class Lot(models.Model):
    """Points credited to a wallet at once, with their expiry date.

    `remaining` is what is left; spending takes from the soonest-expiring lots first.
    A pending lot becomes available on `available_on` (the return window).
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待生效")
        AVAILABLE = "available", _("可用")

    # Every query of a wallet's lots asks for lots with points left, which the partial
    # lot_spend_order_idx (account first) serves; an index of all lots would only cost.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="lots", db_index=False
    )
    member_id = models.BigIntegerField()
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="lots")
    status = models.CharField(max_length=16, choices=Status.choices)
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    expires_on = models.DateField(null=True, blank=True)  # last valid business day; None = never
    available_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("积分批次")
        verbose_name_plural = _("积分批次")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="lot_amount_gt_0"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=models.F("amount")),
                name="lot_remaining_between_0_and_amount",
            ),
        ]
        indexes = [
            models.Index(
                # The spending order itself (expires_on ASC NULLS LAST, id): a spend reads
                # the first lots in index order and stops, however many the wallet has.
                fields=["account", "status", "expires_on", "id"],
                name="lot_spend_order_idx",
                condition=Q(remaining__gt=0),
            ),
            models.Index(
                fields=["expires_on"],
                name="lot_expiry_idx",
                condition=Q(remaining__gt=0, status="available"),
            ),
            models.Index(
                fields=["available_on"], name="lot_mature_idx", condition=Q(status="pending")
            ),
        ]

    def __str__(self) -> str:
        return _("批次 %(id)s：剩余 %(remaining)s/%(amount)s，%(expires)s 到期") % {
            "id": self.pk,
            "remaining": self.remaining,
            "amount": self.amount,
            "expires": self.expires_on or "—",
        }


class LotMovement(models.Model):
    """How a transaction changed a lot: + when it created or restored it, - when it consumed it.

    Reversals and releases undo exactly these movements, so refunded points come back to
    their original lots with their original expiry.
    """

    transaction = models.ForeignKey(
        Transaction, on_delete=models.PROTECT, related_name="lot_movements"
    )
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="movements")
    amount = models.BigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="lot_movement_nonzero")]


class Hold(models.Model):
    """Points reserved at checkout: held, then captured or released (two-phase)."""

    class Status(models.TextChoices):
        HELD = "held", _("冻结中")
        CAPTURED = "captured", _("已扣除")
        RELEASED = "released", _("已释放")

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    points = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HELD)
    hold_transaction = models.OneToOneField(
        Transaction, on_delete=models.PROTECT, related_name="hold"
    )
    settle_transaction = models.OneToOneField(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="settled_hold"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("冻结")
        verbose_name_plural = _("冻结")
        constraints = [models.CheckConstraint(condition=Q(points__gt=0), name="hold_points_gt_0")]
        indexes = [models.Index(fields=["status", "expires_at"], name="hold_status_expiry_idx")]


class TransferDailyTotal(models.Model):
    """Points a member has sent on a business day; the daily limit is a guarded update."""

    # Indexed by transfer_total_member_day (member first).
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField()
    points = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "day"], name="transfer_total_member_day"),
            models.CheckConstraint(condition=Q(points__gte=0), name="transfer_total_gte_0"),
        ]


class Adjustment(models.Model):
    """An operator's change to a member's points, with a reason.

    Above JIFEN_ADJUSTMENT_APPROVAL_THRESHOLD it waits for a second operator's approval.
    """

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", _("待审批")
        APPLIED = "applied", _("已执行")
        REJECTED = "rejected", _("已拒绝")

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="adjustments",
        verbose_name=_("会员"),
    )
    points = models.BigIntegerField(_("积分"))
    reason = models.CharField(_("原因"), max_length=500)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices)
    reference = models.CharField(_("唯一参考号"), max_length=200, unique=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("申请人"),
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("审批人"),
        db_index=False,  # set only on decided adjustments: indexed where set (Meta.indexes)
    )
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    transaction = models.OneToOneField(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="adjustment"
    )
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("积分调整")
        verbose_name_plural = _("积分调整")
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=~Q(points=0), name="adjustment_nonzero")]
        indexes = [
            models.Index(
                fields=["decided_by"],
                name="adjustment_decided_by_idx",
                condition=Q(decided_by__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return _("%(points)+d 积分 · 会员 %(member)s · %(status)s") % {
            "points": self.points,
            "member": self.member_id,
            "status": self.get_status_display(),
        }
