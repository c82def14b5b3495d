"""The mall catalog (商品) and its stock (库存).

Items belong to a category tree, carry tags, images and specifications, and are sold as
SKUs (one per combination of spec options). A SKU has a price in points, or points + cash,
and its own stock.

Stock counters on a SKU change only through jifen.catalog.services, each by one guarded
UPDATE (`remaining = remaining - n WHERE remaining >= n`, row count checked), and each change
writes a StockMovement in the same transaction. Invariant I4 (checked by the ledger
verification):

    stock_initial + received + returned + adjusted = sold + reserved + remaining,
    every counter >= 0 (adjusted is signed), and each counter equals its movements.

Rows here are never edited by the admin's own save: the admin calls the services.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


def _currency() -> str:
    return settings.JIFEN_CURRENCY


class Category(models.Model):
    """A node of the category tree; `parent` is None for the top level."""

    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        verbose_name=_("上级分类"),
    )
    name = models.CharField(_("名称"), max_length=40)
    name_en = models.CharField(_("英文名称"), max_length=60, blank=True)
    icon = models.CharField(_("图标"), max_length=16, blank=True, help_text=_("如 gift、coin"))
    sort_order = models.IntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("商品分类")
        verbose_name_plural = _("商品分类")
        ordering = ["sort_order", "pk"]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="category_not_own_parent"),
        ]

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    name = models.CharField(_("名称"), max_length=30, unique=True)

    class Meta:
        verbose_name = _("标签")
        verbose_name_plural = _("标签")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Item(models.Model):
    """A product of the mall. Its prices and stock are on its SKUs.

    Visible to a member when active, on the shelf (on_shelf_at <= now < off_shelf_at, either
    bound optional) and when the member's tier rank is at least `min_tier_rank`.
    """

    class Kind(models.TextChoices):
        PHYSICAL = "physical", _("实物")
        VIRTUAL = "virtual", _("虚拟商品")
        COUPON = "coupon", _("优惠券")
        SERVICE = "service", _("服务")

    class Fulfilment(models.TextChoices):
        SHIPPING = "shipping", _("快递配送")
        CODE = "code", _("卡密")
        LINK = "link", _("兑换链接")
        COUPON = "coupon", _("发放优惠券")
        VOUCHER = "voucher", _("预约凭证")

    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    fulfilment = models.CharField(_("发放方式"), max_length=16, choices=Fulfilment.choices)
    name = models.CharField(_("名称"), max_length=80)
    name_en = models.CharField(_("英文名称"), max_length=120, blank=True)
    subtitle = models.CharField(_("副标题"), max_length=120, blank=True)
    keywords = models.CharField(
        _("搜索关键词"), max_length=200, blank=True, help_text=_("同义词、拼音或英文，空格分隔")
    )
    description = models.TextField(_("详情"), blank=True)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="items", verbose_name=_("分类")
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="items", verbose_name=_("标签"))
    market_price = models.DecimalField(
        _("市场价"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("币种"), max_length=3, default=_currency)
    per_member_limit = models.PositiveIntegerField(
        _("每人限兑"), null=True, blank=True, help_text=_("留空不限")
    )
    per_order_limit = models.PositiveIntegerField(
        _("每单限兑"), null=True, blank=True, help_text=_("留空不限")
    )
    min_tier_rank = models.PositiveSmallIntegerField(
        _("最低会员等级序号"), default=0, help_text=_("0 为所有会员可见")
    )
    on_shelf_at = models.DateTimeField(_("上架时间"), null=True, blank=True)
    off_shelf_at = models.DateTimeField(_("下架时间"), null=True, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    is_featured = models.BooleanField(_("推荐"), default=False)
    sort_order = models.IntegerField(_("排序"), default=0)
    # Coupons: the value, the threshold (0: none) and how many days one stays valid.
    coupon_value = models.DecimalField(
        _("券面额"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    coupon_threshold = models.DecimalField(
        _("使用门槛"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    valid_days = models.PositiveIntegerField(
        _("有效天数"), null=True, blank=True, help_text=_("优惠券或服务凭证自发放起的有效天数")
    )
    link_url = models.URLField(_("兑换链接"), blank=True)
    # Units sold (stock_commit adds, by one F() UPDATE): the "popular" order.
    redemptions_count = models.PositiveIntegerField(_("已兑换"), default=0)
    # Lower-cased name, English name, subtitle, keywords, tags and category path, kept by
    # the services: the one column that search reads (a trigram index on PostgreSQL).
    search_text = models.TextField(editable=False, default="")
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("商品")
        verbose_name_plural = _("商品")
        ordering = ["-is_featured", "sort_order", "-pk"]
        indexes = [
            models.Index(fields=["is_active", "on_shelf_at"], name="item_active_shelf"),
            models.Index(fields=["-redemptions_count"], name="item_popular"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(market_price__isnull=True) | Q(market_price__gte=0),
                name="item_market_price_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(on_shelf_at__isnull=True)
                | Q(off_shelf_at__isnull=True)
                | Q(off_shelf_at__gt=F("on_shelf_at")),
                name="item_off_after_on",
            ),
            models.CheckConstraint(
                condition=Q(per_member_limit__isnull=True) | Q(per_member_limit__gt=0),
                name="item_per_member_limit_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(per_order_limit__isnull=True) | Q(per_order_limit__gt=0),
                name="item_per_order_limit_gt_0",
            ),
        ]

    def __str__(self) -> str:
        return self.name


def _image_path(instance, filename: str) -> str:
    return f"catalog/{instance.item_id}/{filename}"


class ItemImage(models.Model):
    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, related_name="images", verbose_name=_("商品")
    )
    image = models.ImageField(_("图片"), upload_to=_image_path, max_length=200)
    thumbnail = models.ImageField(_("缩略图"), upload_to=_image_path, max_length=200, blank=True)
    alt = models.CharField(_("说明"), max_length=80, blank=True)
    sort_order = models.IntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("商品图片")
        verbose_name_plural = _("商品图片")
        ordering = ["sort_order", "pk"]

    def __str__(self) -> str:
        return self.alt or self.image.name


class ItemSpec(models.Model):
    """A specification of an item (颜色, 尺码) and its options in display order."""

    item = models.ForeignKey(
        Item, on_delete=models.CASCADE, related_name="specs", verbose_name=_("商品")
    )
    name = models.CharField(_("规格名"), max_length=20)
    values = models.JSONField(_("规格值"), default=list)
    sort_order = models.IntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("商品规格")
        verbose_name_plural = _("商品规格")
        ordering = ["sort_order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["item", "name"], name="itemspec_item_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Sku(models.Model):
    """One combination of spec options, with its price and stock counters (see I4)."""

    item = models.ForeignKey(
        Item, on_delete=models.PROTECT, related_name="skus", verbose_name=_("商品")
    )
    code = models.CharField(_("SKU 编码"), max_length=40, unique=True)
    # {"颜色": "红", "尺码": "M"}; `options_key` is its canonical text, unique per item.
    options = models.JSONField(_("规格"), default=dict, blank=True)
    options_key = models.CharField(max_length=200, default="", editable=False)
    points = models.PositiveIntegerField(_("积分"))
    cash = models.DecimalField(_("加钱购"), max_digits=10, decimal_places=2, default=Decimal(0))
    currency = models.CharField(_("币种"), max_length=3, default=_currency)
    stock_initial = models.PositiveIntegerField(_("初始库存"), default=0)
    received = models.PositiveIntegerField(_("入库"), default=0)
    returned = models.PositiveIntegerField(_("退回"), default=0)
    adjusted = models.IntegerField(_("盘点调整"), default=0)
    reserved = models.PositiveIntegerField(_("已预留"), default=0)
    sold = models.PositiveIntegerField(_("已售"), default=0)
    remaining = models.PositiveIntegerField(_("可售"), default=0)
    low_stock_threshold = models.PositiveIntegerField(_("低库存提醒"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)
    sort_order = models.IntegerField(_("排序"), default=0)

    class Meta:
        verbose_name = _("SKU")
        verbose_name_plural = _("SKU")
        ordering = ["item_id", "sort_order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["item", "options_key"], name="sku_item_options_unique"),
            models.CheckConstraint(condition=Q(stock_initial__gte=0), name="sku_initial_gte_0"),
            models.CheckConstraint(condition=Q(received__gte=0), name="sku_received_gte_0"),
            models.CheckConstraint(condition=Q(returned__gte=0), name="sku_returned_gte_0"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="sku_reserved_gte_0"),
            models.CheckConstraint(condition=Q(sold__gte=0), name="sku_sold_gte_0"),
            models.CheckConstraint(condition=Q(remaining__gte=0), name="sku_remaining_gte_0"),
            models.CheckConstraint(condition=Q(points__gte=0), name="sku_points_gte_0"),
            models.CheckConstraint(condition=Q(cash__gte=0), name="sku_cash_gte_0"),
            models.CheckConstraint(
                condition=Q(points__gt=0) | Q(cash__gt=0), name="sku_has_a_price"
            ),
        ]

    def __str__(self) -> str:
        label = " / ".join(str(v) for v in (self.options or {}).values())
        return f"{self.item.name} {label}".strip() if label else self.code

    @property
    def label(self) -> str:
        return " / ".join(str(v) for v in (self.options or {}).values())


class StockReservation(models.Model):
    """Units set aside for one checkout line, by a unique reference ("order:123:1").

    reserved → released (back to remaining) or sold (stock_commit); sold units may later
    be returned (stock_return), up to the quantity sold.
    """

    class Status(models.TextChoices):
        RESERVED = "reserved", _("已预留")
        RELEASED = "released", _("已释放")
        SOLD = "sold", _("已售出")

    sku = models.ForeignKey(
        Sku, on_delete=models.PROTECT, related_name="reservations", verbose_name=_("SKU")
    )
    reference = models.CharField(_("业务单号"), max_length=100, unique=True)
    quantity = models.PositiveIntegerField(_("数量"))
    returned = models.PositiveIntegerField(_("已退回"), default=0)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.RESERVED
    )
    expires_at = models.DateTimeField(_("预留截止"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("库存预留")
        verbose_name_plural = _("库存预留")
        indexes = [models.Index(fields=["status", "expires_at"], name="reservation_open_expiry")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_quantity_gt_0"),
            models.CheckConstraint(
                condition=Q(returned__gte=0) & Q(returned__lte=F("quantity")),
                name="reservation_returned_0_quantity",
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class StockMovement(models.Model):
    """Every change to a SKU's stock, append-only. (kind, reference) happens once."""

    class Kind(models.TextChoices):
        INITIAL = "initial", _("初始库存")
        RECEIVED = "received", _("入库")
        RESERVED = "reserved", _("预留")
        RELEASED = "released", _("释放")
        SOLD = "sold", _("售出")
        RETURNED = "returned", _("退回")
        ADJUSTED = "adjusted", _("盘点调整")

    sku = models.ForeignKey(
        Sku, on_delete=models.PROTECT, related_name="movements", verbose_name=_("SKU")
    )
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices)
    # Positive, except an adjustment, which is signed.
    quantity = models.IntegerField(_("数量"))
    reference = models.CharField(_("业务单号"), max_length=100)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("库存流水")
        verbose_name_plural = _("库存流水")
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="stockmovement_once"),
            models.CheckConstraint(condition=~Q(quantity=0), name="stockmovement_nonzero"),
            models.CheckConstraint(
                condition=Q(kind="adjusted") | Q(quantity__gt=0),
                name="stockmovement_positive_unless_adjusted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.quantity} ({self.reference})"


class LowStockAlert(models.Model):
    """A SKU's remaining stock fell to its threshold: one open alert per crossing.

    It is resolved when the stock rises above the threshold again; the next fall opens a
    new one. The partial unique constraint keeps one open alert per SKU under concurrency.
    """

    sku = models.ForeignKey(
        Sku, on_delete=models.CASCADE, related_name="low_stock_alerts", verbose_name=_("SKU")
    )
    remaining = models.PositiveIntegerField(_("触发时可售"))
    threshold = models.PositiveIntegerField(_("提醒阈值"))
    created_at = models.DateTimeField(_("提醒时间"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("解除时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("低库存提醒")
        verbose_name_plural = _("低库存提醒")
        ordering = ["-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["sku"], condition=Q(resolved_at__isnull=True), name="lowstock_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.sku} ≤ {self.threshold}"


class MemberItemQuota(models.Model):
    """How many units of an item a member has taken against its per-member limit.

    Checkout takes units (`item_quota_take`, a guarded UPDATE: `taken + n <= limit`) and a
    cancelled order gives them back (`item_quota_return`); each once per reference.
    """

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("会员")
    )
    item = models.ForeignKey(
        Item, on_delete=models.PROTECT, related_name="quotas", verbose_name=_("商品")
    )
    taken = models.PositiveIntegerField(_("已占用"), default=0)

    class Meta:
        verbose_name = _("每人限兑占用")
        verbose_name_plural = _("每人限兑占用")
        constraints = [
            models.UniqueConstraint(fields=["member", "item"], name="quota_member_item_unique"),
            models.CheckConstraint(condition=Q(taken__gte=0), name="quota_taken_gte_0"),
        ]


class QuotaMovement(models.Model):
    """One take or return of a member's quota, once per (kind, reference)."""

    quota = models.ForeignKey(MemberItemQuota, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=8, choices=[("take", _("占用")), ("return", _("归还"))])
    quantity = models.PositiveIntegerField()
    reference = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "reference"], name="quotamovement_once"),
        ]
