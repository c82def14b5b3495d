"""Reads for "my coupons and cards" (我的卡券) and the back-office."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from jifen.core.errors import NotFound, ValidationFailed
from jifen.core.pagination import page_bounds
from jifen.vouchers.models import CodePool, LowPoolAlert, MemberVoucher

# The member's tabs. "expired" gathers what can no longer be used: past validity (marked
# by the beat job or not yet), and voided vouchers.
TABS = ("usable", "used", "expired")
STATUSES = tuple(MemberVoucher.Status.values)
KINDS = tuple(MemberVoucher.Kind.values)


def _status_filter(status: str) -> Q:
    """Statuses as the member sees them (MemberVoucher.display_status): an unused voucher
    past its validity counts as expired before the expiry job has run."""
    now = timezone.now()
    current = Q(valid_until__isnull=True) | Q(valid_until__gt=now)
    unused = Q(status=MemberVoucher.Status.UNUSED)
    return {
        "unused": unused & current,
        "usable": unused & current,
        "used": Q(status=MemberVoucher.Status.USED),
        "expired": Q(status=MemberVoucher.Status.EXPIRED) | (unused & ~current),
        "revoked": Q(status=MemberVoucher.Status.REVOKED),
    }[status]


@dataclass
class VoucherPage:
    items: list[MemberVoucher]
    count: int
    page: int
    pages: int


def member_vouchers(
    *,
    member_id: int,
    status: str | None = None,
    tab: str | None = None,
    kind: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> VoucherPage:
    """A member's vouchers, newest first. `status` is one of unused/used/expired/revoked
    (as displayed); `tab` one of usable/used/expired (expired includes voided ones).
    ValidationFailed for an unknown filter or page."""
    offset, limit = page_bounds(page, page_size)
    rows: QuerySet = MemberVoucher.objects.filter(member_id=member_id)
    if status:
        if status not in STATUSES:
            raise ValidationFailed(
                _("状态不正确。"), code="invalid_status", fields={"status": status}
            )
        rows = rows.filter(_status_filter(status))
    if tab:
        if tab not in TABS:
            raise ValidationFailed(_("分类不正确。"), code="invalid_tab", fields={"tab": tab})
        rows = rows.filter(
            _status_filter(tab)
            if tab != "expired"
            else _status_filter("expired") | _status_filter("revoked")
        )
    if kind:
        if kind not in KINDS:
            raise ValidationFailed(_("类型不正确。"), code="invalid_kind", fields={"kind": kind})
        rows = rows.filter(kind=kind)
    count = rows.count()
    items = list(rows.order_by("-pk")[offset : offset + limit])
    return VoucherPage(items=items, count=count, page=page, pages=max(1, -(-count // limit)))


def member_voucher_counts(*, member_id: int) -> dict[str, int]:
    """How many vouchers each tab holds (the tab badges)."""
    rows = MemberVoucher.objects.filter(member_id=member_id)
    return {
        "usable": rows.filter(_status_filter("usable")).count(),
        "used": rows.filter(_status_filter("used")).count(),
        "expired": rows.filter(_status_filter("expired") | _status_filter("revoked")).count(),
    }


def member_voucher_get(*, voucher_id: int, member_id: int) -> MemberVoucher:
    """One of the member's vouchers; NotFound `voucher_not_found` for anyone else's."""
    voucher = (
        MemberVoucher.objects.select_related("item")
        .filter(pk=voucher_id, member_id=member_id)
        .first()
        if isinstance(voucher_id, int) and 1 <= voucher_id < 2**63
        else None
    )
    if voucher is None:
        raise NotFound(_("卡券不存在。"), code="voucher_not_found")
    return voucher


def vouchers_for_reference(*, reference: str) -> list[MemberVoucher]:
    """The vouchers issued under one reference (an order line), in index order."""
    return list(MemberVoucher.objects.filter(issue_reference=reference).order_by("index"))


def vouchers_for_order_lines(*, order_line_ids: list[int]) -> dict[int, list[MemberVoucher]]:
    """Vouchers by order line id, for an order page."""
    result: dict[int, list[MemberVoucher]] = {}
    rows = MemberVoucher.objects.filter(order_line_id__in=order_line_ids).order_by("index")
    for voucher in rows:
        result.setdefault(voucher.order_line_id, []).append(voucher)
    return result


def low_pool_count() -> int:
    """Open low-pool alerts (the back-office badge)."""
    return LowPoolAlert.objects.filter(resolved_at__isnull=True).count()


def code_pool_for_sku(*, sku_id: int) -> CodePool | None:
    return CodePool.objects.filter(sku_id=sku_id).first()


def generated_voucher_get(*, code: str) -> MemberVoucher:
    """A coupon or service voucher by its generated code (case-insensitive); NotFound
    `voucher_not_found` otherwise (pool codes are not redeemed here)."""
    if not isinstance(code, str) or not 0 < len(code.strip()) <= 100:
        raise NotFound(_("券码不存在。"), code="voucher_not_found")
    voucher = (
        MemberVoucher.objects.select_related("member")
        .filter(
            code=code.strip().upper(),
            kind__in=[MemberVoucher.Kind.COUPON, MemberVoucher.Kind.VOUCHER],
        )
        .first()
    )
    if voucher is None:
        raise NotFound(_("券码不存在。"), code="voucher_not_found")
    return voucher
