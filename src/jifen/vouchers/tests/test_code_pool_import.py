"""code_pool_import: codes become stock, duplicates are skipped, bad files change nothing."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jifen.catalog.models import Sku, StockMovement
from jifen.core.errors import NotFound, ValidationFailed
from jifen.vouchers import services
from jifen.vouchers.models import CodeImport, CodePool, LowPoolAlert, PoolCode

pytestmark = pytest.mark.django_db


def _remaining(sku) -> tuple[int, int]:
    row = Sku.objects.filter(pk=sku.pk).values("received", "remaining").get()
    return row["received"], row["remaining"]


def test_import_adds_codes_and_exactly_that_much_stock(goods, operator):
    upload = SimpleUploadedFile("codes.csv", b"code\n AAAA-1111 ,note\nBBBB-2222\n\nCCCC-3333\n")
    record = services.code_pool_import(sku_id=goods.card_sku.pk, csv_file=upload, by=operator)
    assert (record.file_name, record.imported, record.duplicates, record.invalid) == (
        "codes.csv",
        3,
        0,
        1,
    )
    assert record.created_by == operator
    pool = CodePool.objects.get(sku=goods.card_sku)
    assert list(pool.codes.values_list("code", "status")) == [
        ("AAAA-1111", "available"),
        ("BBBB-2222", "available"),
        ("CCCC-3333", "available"),
    ]
    assert _remaining(goods.card_sku) == (3, 3)
    movement = StockMovement.objects.get(sku=goods.card_sku)
    assert (movement.kind, movement.quantity, movement.reference, movement.reason) == (
        "received",
        3,
        f"codeimport:{record.pk}",
        "导入卡密 3 个",
    )
    assert movement.created_by == operator


def test_duplicates_in_the_file_and_in_the_pool_are_skipped(goods):
    services.code_pool_import(sku_id=goods.card_sku.pk, text="A1\nB2\n")
    record = services.code_pool_import(sku_id=goods.card_sku.pk, text="B2\nC3\nC3\nD4\nA1\n")
    assert (record.imported, record.duplicates) == (2, 3)
    assert sorted(PoolCode.objects.values_list("code", flat=True)) == ["A1", "B2", "C3", "D4"]
    assert _remaining(goods.card_sku) == (4, 4)


def test_the_same_file_twice_adds_nothing(goods):
    services.code_pool_import(sku_id=goods.card_sku.pk, text="A1\nB2\n")
    again = services.code_pool_import(sku_id=goods.card_sku.pk, text="A1\nB2\n")
    assert (again.imported, again.duplicates) == (0, 2)
    assert _remaining(goods.card_sku) == (2, 2)
    assert StockMovement.objects.filter(sku=goods.card_sku).count() == 1


@pytest.mark.parametrize(
    "text, lines",
    [
        ("GOOD1\nhas space\nGOOD2\n", [2]),
        ("GOOD1\n" + "X" * 101 + "\n", [2]),
        ("bad\x01code\nGOOD\n", [1]),
    ],
)
def test_an_invalid_line_refuses_the_whole_file(goods, text, lines):
    with pytest.raises(ValidationFailed) as error:
        services.code_pool_import(sku_id=goods.card_sku.pk, text=text)
    assert error.value.code == "invalid_codes"
    assert error.value.fields == {"lines": lines}
    assert PoolCode.objects.count() == 0
    assert CodeImport.objects.count() == 0
    assert _remaining(goods.card_sku) == (0, 0)


@pytest.mark.parametrize("text", ["", "\n\n  \n", "code\n"])
def test_an_empty_file_is_refused(goods, text):
    with pytest.raises(ValidationFailed) as error:
        services.code_pool_import(sku_id=goods.card_sku.pk, text=text)
    assert error.value.code == "empty_import"
    assert CodeImport.objects.count() == 0
    assert _remaining(goods.card_sku) == (0, 0)


def test_gbk_file_is_read(goods):
    upload = io.BytesIO("卡密\n码一\n".encode("gb18030"))
    upload.name = "gbk.csv"
    record = services.code_pool_import(sku_id=goods.card_sku.pk, csv_file=upload)
    assert record.imported == 1
    assert PoolCode.objects.get().code == "码一"


def test_only_code_items_have_pools(goods):
    with pytest.raises(ValidationFailed) as error:
        services.code_pool_import(sku_id=goods.coupon_sku.pk, text="A1\n")
    assert error.value.code == "not_a_code_item"
    with pytest.raises(NotFound):
        services.code_pool_import(sku_id=10**9, text="A1\n")
    with pytest.raises(ValidationFailed):
        services.code_pool_import(sku_id="1", text="A1\n")
    with pytest.raises(ValidationFailed) as error:
        services.code_pool_import(sku_id=goods.card_sku.pk)
    assert error.value.code == "import_source"
    assert CodePool.objects.count() == 0


def test_low_pool_alert_opens_once_and_resolves_on_import(goods, member, make_member):
    services.code_pool_save(sku_id=goods.card_sku.pk, low_pool_threshold=2)
    assert LowPoolAlert.objects.count() == 1  # an empty pool is low
    services.code_pool_import(sku_id=goods.card_sku.pk, text="A\nB\nC\nD\n")
    alert = LowPoolAlert.objects.get()
    assert alert.resolved_at is not None
    for n in range(3):
        services.vouchers_issue(
            member_id=member.pk,
            order_line_id=None,
            item_id=goods.card.pk,
            sku_id=goods.card_sku.pk,
            quantity=1,
            reference=f"line:{n}",
        )
    open_alerts = LowPoolAlert.objects.filter(resolved_at__isnull=True)
    assert [(a.available, a.threshold) for a in open_alerts] == [(2, 2)]
    assert LowPoolAlert.objects.count() == 2


def test_verification_sees_a_tampered_pool(goods):
    from jifen.ledger.verification import ledger_verify

    services.code_pool_import(sku_id=goods.card_sku.pk, text="A1\nB2\n")
    assert ledger_verify().ok
    CodePool.objects.update(available=5)
    report = ledger_verify()
    assert [str(v) for v in report.violations] == [
        f"I4 code pool {goods.card_sku.code_pool.pk}: available 5 != available codes 2"
    ]
    CodePool.objects.update(available=2)


def test_void_an_available_code(goods, member, operator):
    services.code_pool_import(sku_id=goods.card_sku.pk, text="A1\nB2\n")
    code = PoolCode.objects.get(code="A1")
    voided = services.pool_code_void(code_id=code.pk, reason="供应商作废", by=operator)
    assert voided.status == "revoked"
    assert CodePool.objects.get().available == 1
    assert _remaining(goods.card_sku) == (2, 1)
    movement = StockMovement.objects.get(kind="adjusted")
    assert (movement.quantity, movement.reference, movement.reason) == (
        -1,
        f"poolcode-void:{code.pk}",
        "作废卡密：供应商作废",
    )
    assert services.pool_code_void(code_id=code.pk, reason="again").status == "revoked"
    assert _remaining(goods.card_sku) == (2, 1)
    (voucher,) = services.vouchers_issue(
        member_id=member.pk,
        order_line_id=None,
        item_id=goods.card.pk,
        sku_id=goods.card_sku.pk,
        quantity=1,
        reference="r",
    )
    assert voucher.code == "B2"  # never the void one
    from jifen.core.errors import Conflict

    with pytest.raises(Conflict) as error:
        services.pool_code_void(code_id=PoolCode.objects.get(code="B2").pk, reason="x")
    assert error.value.code == "code_issued"


def test_void_refused_when_every_unit_is_reserved(goods):
    from jifen.catalog import services as catalog_services
    from jifen.catalog.services import OutOfStock

    services.code_pool_import(sku_id=goods.card_sku.pk, text="A1\n")
    catalog_services.stock_reserve(sku_id=goods.card_sku.pk, quantity=1, reference="cart")
    with pytest.raises(OutOfStock):
        services.pool_code_void(code_id=PoolCode.objects.get().pk, reason="x")
    assert PoolCode.objects.get().status == "available"
    assert CodePool.objects.get().available == 1


def test_low_pool_is_logged_and_mailed_after_commit(
    goods, caplog, django_capture_on_commit_callbacks, settings, eager_tasks
):
    from django.core import mail

    settings.JIFEN_OPERATOR_ALERT_EMAILS = "ops@example.com"
    with django_capture_on_commit_callbacks(execute=True):
        services.code_pool_save(sku_id=goods.card_sku.pk, low_pool_threshold=1)
    assert "Low code pool" in caplog.text and "has 0 codes left (threshold 1)" in caplog.text
    (message,) = mail.outbox
    assert message.to == ["ops@example.com"] and "剩 0 个" in message.subject


def test_expire_task(goods, member):
    import datetime as dt

    from django.utils import timezone

    from jifen.vouchers.models import MemberVoucher
    from jifen.vouchers.tasks import vouchers_expire_task

    services.vouchers_issue(
        member_id=member.pk,
        order_line_id=None,
        item_id=goods.coupon.pk,
        sku_id=goods.coupon_sku.pk,
        quantity=1,
        reference="r",
    )
    MemberVoucher.objects.update(
        valid_from=timezone.now() - dt.timedelta(days=2),
        valid_until=timezone.now() - dt.timedelta(days=1),
    )
    assert vouchers_expire_task.apply().get() == 1
    assert MemberVoucher.objects.get().status == "expired"
