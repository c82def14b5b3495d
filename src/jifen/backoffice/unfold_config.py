"""django-unfold settings for the back-office; imported by jifen.config.settings.

Loaded while settings are read: nothing here may import models or resolve URLs at import
time (links are `reverse_lazy`, callbacks are dotted paths or lambdas called per request).
"""

from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _


def _changelist(model: str, query: str = ""):
    url = reverse_lazy(f"admin:{model}_changelist")
    return (lambda request: f"{url}?{query}") if query else url


def _can_view(model: str):
    app_label, name = model.split("_", 1)
    return lambda request: request.user.has_perm(f"{app_label}.view_{name}")


def _active_with(model: str, param: str, value: str, *, default: bool = False):
    """A sidebar item for a filtered changelist is active with its filter; the `default`
    item of a pair is also active on the model's other pages (detail, unfiltered list)."""
    path = reverse_lazy(f"admin:{model}_changelist")

    def active(request) -> bool:
        if not request.path.startswith(str(path)):
            return False
        given = request.GET.get(param)
        return given == value or (default and given is None)

    return active


def _item(title, icon, model, query="", active=None):
    item = {
        "title": title,
        "icon": icon,
        "link": _changelist(model, query),
        "permission": _can_view(model),
    }
    if active is not None:
        item["active"] = active
    return item


# Warm red (中国红) as the primary colour, warm greys as the base; gold is the accent of
# the dashboard's cards and charts (see backoffice/templates/backoffice/dashboard.html).
PRIMARY = {
    "50": "#fef3f2",
    "100": "#fee4e2",
    "200": "#fececa",
    "300": "#fcaba5",
    "400": "#f77b70",
    "500": "#ee4f43",
    "600": "#d93226",
    "700": "#b6261c",
    "800": "#96231b",
    "900": "#7c231d",
    "950": "#430d09",
}
BASE = {
    "50": "#fafaf9",
    "100": "#f5f5f4",
    "200": "#e7e5e4",
    "300": "#d6d3d1",
    "400": "#a8a29e",
    "500": "#78716c",
    "600": "#57534e",
    "700": "#44403c",
    "800": "#292524",
    "900": "#1c1917",
    "950": "#0c0a09",
}
GOLD = "#d4a017"

UNFOLD = {
    "SITE_TITLE": _("积分商城 · 运营后台"),
    "SITE_HEADER": _("积分商城"),
    "SITE_SUBHEADER": _("运营后台"),
    "SITE_SYMBOL": "loyalty",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "jifen.backoffice.views.dashboard_callback",
    "COLORS": {"primary": PRIMARY, "base": BASE},
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": [
            {
                "title": _("概览"),
                "items": [
                    {
                        "title": _("仪表盘"),
                        "icon": "dashboard",
                        "link": reverse_lazy("admin:index"),
                    },
                ],
            },
            {
                "title": _("会员"),
                "items": [
                    _item(
                        _("会员"),
                        "people",
                        "members_user",
                        "is_staff__exact=0",
                        _active_with("members_user", "is_staff__exact", "0", default=True),
                    ),
                    _item(
                        _("运营人员"),
                        "badge",
                        "members_user",
                        "is_staff__exact=1",
                        _active_with("members_user", "is_staff__exact", "1"),
                    ),
                    _item(_("角色与权限"), "admin_panel_settings", "auth_group"),
                ],
            },
            {
                "title": _("积分账本"),
                "items": [
                    _item(
                        _("会员钱包"),
                        "account_balance_wallet",
                        "ledger_account",
                        "scope=wallet",
                        _active_with("ledger_account", "scope", "wallet", default=True),
                    ),
                    _item(
                        _("系统账户"),
                        "account_balance",
                        "ledger_account",
                        "scope=system",
                        _active_with("ledger_account", "scope", "system"),
                    ),
                    _item(_("交易流水"), "receipt_long", "ledger_transaction"),
                    _item(_("积分批次"), "inventory_2", "ledger_lot"),
                    _item(_("批次变动"), "swap_vert", "ledger_lotmovement"),
                    _item(_("冻结"), "lock", "ledger_hold"),
                ],
            },
            {
                "title": _("运营"),
                "items": [
                    {
                        **_item(_("积分调整"), "tune", "ledger_adjustment"),
                        "badge": "jifen.backoffice.views.adjustments_pending_badge",
                        "badge_variant": "warning",
                    },
                    _item(_("幂等记录"), "fingerprint", "core_idempotencyrecord"),
                ],
            },
            {
                "title": _("积分规则与接入"),
                "collapsible": True,
                "items": [
                    _item(_("积分规则"), "rule", "rules_rule"),
                    _item(_("接入系统"), "hub", "integrations_apiclient"),
                    _item(_("接入事件"), "sync_alt", "integrations_event"),
                    _item(_("消费记录"), "shopping_bag", "integrations_purchase"),
                    _item(_("退款记录"), "assignment_return", "integrations_refund"),
                    _item(_("自定义行为"), "bolt", "integrations_customaction"),
                    _item(_("积分抵现"), "point_of_sale", "integrations_integrationhold"),
                ],
            },
            {
                "title": _("会员等级"),
                "collapsible": True,
                "items": [
                    _item(_("等级与权益"), "workspace_premium", "tiers_level"),
                    _item(_("会员等级"), "military_tech", "tiers_membertier"),
                    _item(_("等级变更记录"), "history", "tiers_tierchange"),
                    _item(_("降级提醒"), "notifications_active", "tiers_tiernotice"),
                ],
            },
            {
                "title": _("签到与任务"),
                "collapsible": True,
                "items": [
                    _item(_("签到与分享设置"), "event_available", "engagement_engagementconfig"),
                    _item(_("任务"), "task_alt", "engagement_task"),
                    _item(_("签到记录"), "calendar_month", "engagement_checkin"),
                    _item(_("任务完成记录"), "fact_check", "engagement_taskcompletion"),
                    _item(_("分享记录"), "share", "engagement_share"),
                    _item(_("补签卡发放"), "confirmation_number", "engagement_makeupcardgrant"),
                    _item(_("会员补签卡"), "style", "engagement_memberengagement"),
                ],
            },
            {
                "title": _("邀请与商品码"),
                "collapsible": True,
                "items": [
                    _item(
                        _("邀请记录"),
                        "group_add",
                        "referrals_referral",
                        active=_active_with(
                            "referrals_referral", "status__exact", "", default=True
                        ),
                    ),
                    _item(
                        _("待审核邀请"),
                        "pending_actions",
                        "referrals_referral",
                        "status__exact=review",
                        _active_with("referrals_referral", "status__exact", "review"),
                    ),
                    _item(_("邀请规则"), "tune", "referrals_referralprogram"),
                    _item(_("邀请码"), "qr_code", "referrals_invitecode"),
                    _item(_("商品码批次"), "qr_code_2", "referrals_codebatch"),
                    _item(_("商品码"), "confirmation_number", "referrals_productcode"),
                ],
            },
            {
                "title": _("积分商城"),
                "collapsible": True,
                "items": [
                    _item(_("商品"), "redeem", "catalog_item"),
                    _item(_("商品分类"), "category", "catalog_category"),
                    _item(_("SKU 与库存"), "inventory", "catalog_sku"),
                    _item(_("库存流水"), "swap_horiz", "catalog_stockmovement"),
                    _item(_("库存预留"), "lock_clock", "catalog_stockreservation"),
                    {
                        **_item(_("低库存提醒"), "warning", "catalog_lowstockalert"),
                        "badge": "jifen.catalog.admin.low_stock_badge",
                        "badge_variant": "danger",
                    },
                    _item(_("卡密池"), "vpn_key", "vouchers_codepool"),
                    _item(_("卡密导入"), "upload", "vouchers_codeimport"),
                    _item(_("会员卡券"), "confirmation_number", "vouchers_membervoucher"),
                    {
                        **_item(_("卡密不足提醒"), "key_off", "vouchers_lowpoolalert", "open=yes"),
                        "badge": "jifen.vouchers.admin.low_pool_badge",
                        "badge_variant": "danger",
                    },
                ],
            },
            {
                "title": _("订单与支付"),
                "collapsible": True,
                "items": [
                    _item(_("兑换订单"), "receipt_long", "orders_order"),
                    {
                        **_item(_("待发货"), "local_shipping", "shipping_ordertoship"),
                        "badge": "jifen.shipping.admin.to_ship_badge",
                        "badge_variant": "warning",
                    },
                    _item(_("发货单"), "package_2", "shipping_shipment"),
                    _item(_("批量发货记录"), "upload_file", "shipping_bulkshipimport"),
                    _item(_("承运商"), "airport_shuttle", "shipping_carrier"),
                    {
                        **_item(_("售后"), "assignment_return", "aftersales_aftersale"),
                        "badge": "jifen.aftersales.admin.queue_badge",
                        "badge_variant": "warning",
                    },
                    _item(_("支付单"), "payments", "payments_payment"),
                    _item(_("退款"), "currency_exchange", "payments_refund"),
                    _item(_("支付回调"), "webhook", "payments_paymentcallback"),
                    _item(_("沙箱交易"), "science", "payments_sandboxtrade"),
                ],
            },
            {
                "title": _("评价"),
                "collapsible": True,
                "items": [
                    {
                        **_item(_("评价审核"), "rate_review", "reviews_review"),
                        "badge": "jifen.reviews.admin.pending_badge",
                        "badge_variant": "warning",
                    },
                    _item(_("商品评分"), "star", "reviews_itemrating"),
                ],
            },
        ],
    },
}
