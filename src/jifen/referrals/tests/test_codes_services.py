"""Product codes: generation, redemption, validity, rate limits."""

import datetime as dt
import time

import pytest

from jifen.core import clock
from jifen.core.errors import Conflict, NotFound, RateLimited, ValidationFailed
from jifen.ledger.models import Transaction
from jifen.ledger.services import balances_of
from jifen.referrals.alphabet import ALPHABET, grouped
from jifen.referrals.codes_models import CodeBatch, ProductCode
from jifen.referrals.codes_selectors import code_batch_export_rows
from jifen.referrals.codes_services import (
    code_batch_codes,
    code_batch_create,
    code_batch_void,
    code_hash,
    code_redeem,
)

pytestmark = pytest.mark.django_db


def available(member) -> int:
    return balances_of(member.pk)["available"]


def test_batch_codes_are_unique_16_symbols_and_stored_only_hashed(batch):
    codes = batch.plain

    assert len(codes) == len(set(codes)) == 3
    assert all(len(code) == 16 and set(code) <= set(ALPHABET) for code in codes)
    stored = list(ProductCode.objects.filter(batch=batch).order_by("serial"))
    assert [row.serial for row in stored] == [1, 2, 3]
    assert [row.code_hash for row in stored] == [code_hash(code) for code in codes]
    assert not any(code in row.code_hash for row in stored for code in codes)


def test_ten_thousand_codes_in_one_go():
    today = clock.business_date()
    started = time.monotonic()

    batch = code_batch_create(
        name="大批量", points=5, quantity=10_000, valid_from=today, valid_until=today
    )

    assert ProductCode.objects.filter(batch=batch).count() == 10_000
    assert time.monotonic() - started < 20
    assert len({code for _s, code in code_batch_codes(batch)}) == 10_000


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"name": ""}, {"name"}),
        ({"points": 0}, {"points"}),
        ({"points": -5}, {"points"}),
        ({"points": 1.5}, {"points"}),
        ({"quantity": 0}, {"quantity"}),
        ({"quantity": 100_001}, {"quantity"}),
        ({"quantity": True}, {"quantity"}),
        ({"valid_until": dt.date(2020, 1, 1)}, {"valid_until"}),
        ({"valid_from": "2026-01-01"}, {"valid_until"}),
    ],
)
def test_bad_batches_are_refused_and_nothing_is_written(changes, fields):
    data = {
        "name": "x",
        "points": 10,
        "quantity": 10,
        "valid_from": dt.date(2026, 1, 1),
        "valid_until": dt.date(2026, 12, 31),
        **changes,
    }
    with pytest.raises(ValidationFailed) as error:
        code_batch_create(**data)
    assert set(error.value.fields) == fields
    assert CodeBatch.objects.count() == 0 and ProductCode.objects.count() == 0


def test_redeem_earns_once(batch, member):
    code = batch.plain[0]

    done = code_redeem(member_id=member.pk, code=grouped(code).lower(), ip="1.2.3.4")

    assert done.points == 20 and done.batch_name == "春季瓶盖码"
    assert done.transaction.reference == f"code:{done.code.pk}"
    assert available(member) == 20
    row = ProductCode.objects.get(code_hash=code_hash(code))
    assert row.redeemed_by_id == member.pk and row.redeemed_at is not None
    with pytest.raises(Conflict) as error:
        code_redeem(member_id=member.pk, code=code, ip="1.2.3.4")
    assert error.value.code == "code_already_redeemed"
    assert available(member) == 20


def test_a_code_used_by_someone_else(batch, make_member):
    first, second = make_member(), make_member()
    code_redeem(member_id=first.pk, code=batch.plain[0], ip="1.1.1.1")

    with pytest.raises(Conflict) as error:
        code_redeem(member_id=second.pk, code=batch.plain[0], ip="1.1.1.2")

    assert error.value.code == "code_used"
    assert available(second) == 0
    assert Transaction.objects.filter(kind="earn", details__source="product_code").count() == 1


@pytest.mark.parametrize(
    ("typed", "error_class", "code"),
    [
        ("", ValidationFailed, "invalid_code"),
        ("ABC", ValidationFailed, "invalid_code"),
        ("0" * 16, ValidationFailed, "invalid_code"),
        ("A" * 17, ValidationFailed, "invalid_code"),
        ("A" * 16, NotFound, "code_not_found"),
        ("<script>" * 2, ValidationFailed, "invalid_code"),
    ],
)
def test_bad_codes(batch, member, typed, error_class, code):
    with pytest.raises(error_class) as error:
        code_redeem(member_id=member.pk, code=typed, ip="1.2.3.4")
    assert error.value.code == code
    assert available(member) == 0
    assert ProductCode.objects.filter(redeemed_by__isnull=False).count() == 0


def test_expired_not_yet_valid_and_void(batch, member):
    today = clock.business_date()
    CodeBatch.objects.filter(pk=batch.pk).update(valid_until=today - dt.timedelta(days=1))
    with pytest.raises(Conflict) as error:
        code_redeem(member_id=member.pk, code=batch.plain[0], ip="1.2.3.4")
    assert error.value.code == "code_expired"

    CodeBatch.objects.filter(pk=batch.pk).update(
        valid_from=today + dt.timedelta(days=1), valid_until=today + dt.timedelta(days=2)
    )
    with pytest.raises(Conflict) as error:
        code_redeem(member_id=member.pk, code=batch.plain[0], ip="1.2.3.4")
    assert error.value.code == "code_not_yet_valid"

    CodeBatch.objects.filter(pk=batch.pk).update(valid_from=today)
    code_batch_void(batch_id=batch.pk)
    with pytest.raises(Conflict) as error:
        code_redeem(member_id=member.pk, code=batch.plain[0], ip="1.2.3.4")
    assert error.value.code == "code_void"
    assert available(member) == 0


def test_last_valid_day_still_works(batch, member):
    CodeBatch.objects.filter(pk=batch.pk).update(valid_until=clock.business_date())
    assert code_redeem(member_id=member.pk, code=batch.plain[0], ip="1.2.3.4").points == 20


def test_guessing_is_limited_per_member(batch, member, settings):
    settings.JIFEN_CODE_MAX_FAILURES_PER_MEMBER = 3
    for _ in range(3):
        with pytest.raises(NotFound):
            code_redeem(member_id=member.pk, code="A" * 16, ip="1.2.3.4")

    with pytest.raises(RateLimited):  # even a real code, once locked out
        code_redeem(member_id=member.pk, code=batch.plain[0], ip="1.2.3.4")
    assert available(member) == 0


def test_guessing_is_limited_per_ip(batch, make_member, settings):
    settings.JIFEN_CODE_MAX_FAILURES_PER_IP = 2
    for _ in range(2):
        with pytest.raises(NotFound):
            code_redeem(member_id=make_member().pk, code="B" * 16, ip="9.9.9.9")
    other = make_member()
    with pytest.raises(RateLimited):
        code_redeem(member_id=other.pk, code=batch.plain[0], ip="9.9.9.9")
    assert code_redeem(member_id=other.pk, code=batch.plain[0], ip="9.9.9.8").points == 20


def test_successes_do_not_count_as_guesses(batch, member, settings):
    settings.JIFEN_CODE_MAX_FAILURES_PER_MEMBER = 1
    for code in batch.plain:
        code_redeem(member_id=member.pk, code=code, ip="1.2.3.4")
    assert available(member) == 60


def test_export_rows_rederive_the_codes(batch):
    rows = list(code_batch_export_rows(batch=batch, redeem_url="https://x.test/invite/codes/"))

    assert rows[0] == ["batch", "serial", "code", "points", "valid_from", "valid_until", "url"]
    assert [row[2] for row in rows[1:]] == [grouped(code) for code in batch.plain]
    assert rows[1][6] == f"https://x.test/invite/codes/?code={batch.plain[0]}"
    assert rows[1][3] == 20 and rows[1][1] == 1


def test_void_unknown_batch():
    with pytest.raises(NotFound):
        code_batch_void(batch_id=999)
