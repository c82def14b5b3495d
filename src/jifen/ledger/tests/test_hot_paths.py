"""The load benchmark's two requests: what they write, and how many statements they take.

On PostgreSQL the earn (an operator's adjustment) and the transfer run as a few hand-written
statements (docs/adr/0005-posting-statements.md); elsewhere through the ORM. These tests
run on both and must see the same rows.
"""

import datetime as dt

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test import Client
from django.test.utils import CaptureQueriesContext

from jifen.core.errors import Conflict, InsufficientPoints, ValidationFailed
from jifen.ledger.models import (
    Account,
    Adjustment,
    Entry,
    Lot,
    LotMovement,
    Transaction,
    TransferDailyTotal,
)
from jifen.ledger.selectors import points_summary
from jifen.ledger.services import (
    adjustment_request,
    balances_of,
    points_earn,
    points_transfer,
    transaction_reverse,
)
from jifen.members.models import User
from jifen.members.tokens import token_issue

pytestmark = pytest.mark.django_db
D = dt.date


def bearer(user) -> Client:
    return Client(headers={"Authorization": f"Bearer {token_issue(user=user).token}"})


def test_transfer_takes_from_more_than_one_batch_of_lots(make_member):
    """25 lots of 2 points (the lots are read 20 at a time): soonest-expiring first."""
    a, b = make_member(), make_member()
    for n in range(25):
        points_earn(
            member_id=a.pk,
            points=2,
            source="purchase",
            reference=f"e{n}",
            expires_on=D(2099, 1, 1) + dt.timedelta(days=24 - n),  # the last earned first
        )
    points_earn(member_id=a.pk, points=5, source="purchase", reference="forever")
    Lot.objects.filter(transaction__reference="forever").update(expires_on=None)

    txn = points_transfer(sender_id=a.pk, recipient_id=b.pk, points=47, reference="t")

    assert balances_of(a.pk)["available"] == 8
    assert balances_of(b.pk)["available"] == 47
    # The sender keeps part of the 24th-soonest lot, the latest one and the never-expiring 5.
    left = list(
        Lot.objects.filter(member_id=a.pk, remaining__gt=0)
        .order_by(F("expires_on").asc(nulls_last=True))
        .values_list("expires_on", "remaining")
    )
    assert left == [(D(2099, 1, 24), 1), (D(2099, 1, 25), 2), (None, 5)]
    received = list(
        Lot.objects.filter(member_id=b.pk)
        .order_by("expires_on")
        .values_list("expires_on", "amount", "remaining", "status")
    )
    assert received == [
        (D(2099, 1, 1) + dt.timedelta(days=d), 2, 2, "available") for d in range(23)
    ] + [(D(2099, 1, 24), 1, 1, "available")]
    movements = LotMovement.objects.filter(transaction=txn)
    assert sorted(m.amount for m in movements if m.amount < 0) == [-2] * 23 + [-1]
    assert sum(m.amount for m in movements) == 0
    assert list(
        Entry.objects.filter(transaction=txn).order_by("pk").values_list("member_id", "amount")
    ) == [(a.pk, -47), (b.pk, 47)]
    assert txn.details == {"note": "", "points": 47}


def test_transfer_of_never_expiring_points_and_its_reversal(make_member):
    a, b = make_member(), make_member()
    points_earn(member_id=a.pk, points=100, source="purchase", reference="e")
    Lot.objects.filter(member_id=a.pk).update(expires_on=None)

    txn = points_transfer(sender_id=a.pk, recipient_id=b.pk, points=30, reference="t")
    assert list(Lot.objects.filter(member_id=b.pk).values_list("expires_on", "remaining")) == [
        (None, 30)
    ]
    transaction_reverse(transaction_id=txn.pk, reference="r")
    assert balances_of(a.pk)["available"] == 100
    assert balances_of(b.pk)["available"] == 0


def test_adjustment_applied_at_once_writes_the_posting_and_its_row(make_member, operator):
    member = make_member()
    adjustment = adjustment_request(
        member_id=member.pk, points=70, reason="补偿", reference="adj-1", requested_by=operator
    )

    stored = Adjustment.objects.get()
    assert (adjustment.pk, adjustment.status, adjustment.transaction_id) == (
        stored.pk,
        "applied",
        stored.transaction_id,
    )
    assert (stored.member_id, stored.points, stored.reason, stored.requested_by_id) == (
        member.pk,
        70,
        "补偿",
        operator.pk,
    )
    txn = Transaction.objects.get(pk=stored.transaction_id)
    assert (txn.kind, txn.reference, txn.explanation, txn.details, txn.created_by_id) == (
        "adjust",
        "adjustment:adj-1",
        "补偿",
        {"adjustment": "adj-1"},
        operator.pk,
    )
    lot = Lot.objects.get(transaction=txn)
    assert (lot.amount, lot.remaining, lot.status) == (70, 70, "available")
    assert list(LotMovement.objects.filter(transaction=txn).values_list("lot_id", "amount")) == [
        (lot.pk, 70)
    ]
    assert balances_of(member.pk)["available"] == 70
    # The same call again: the first adjustment, nothing posted twice.
    again = adjustment_request(
        member_id=member.pk, points=70, reason="补偿", reference="adj-1", requested_by=operator
    )
    assert again.pk == stored.pk
    assert Transaction.objects.filter(kind="adjust").count() == 1


def test_points_summary_after_a_transfer(make_member):
    a, b = make_member(), make_member()
    points_earn(
        member_id=a.pk, points=100, source="purchase", reference="e1", expires_on=D(2099, 1, 1)
    )
    points_earn(
        member_id=a.pk, points=50, source="purchase", reference="e2", expires_on=D(2099, 1, 1)
    )
    points_transfer(sender_id=a.pk, recipient_id=b.pk, points=120, reference="t")
    assert points_summary(member_id=a.pk) == {
        "available": 30,
        "pending": 0,
        "held": 0,
        "debt": 0,
        "next_expiry": {"points": 30, "date": D(2099, 1, 1)},
    }
    assert Account.objects.get(member_id=a.pk).available == 30


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # commits, so the system account id is cached
def test_statements_per_benchmark_request(make_member, operator):
    """A regression guard for docs/performance.md: earn 1 statement, transfer 1.

    The posting function by login (the member lookup inside; its own transaction: no
    BEGIN/COMMIT; the transfer's also reads the balance of the response). The token was
    looked up by an earlier request of the same client and is remembered (ADR 0007).
    """
    a, b = make_member(), make_member()
    points_earn(member_id=a.pk, points=1000, source="purchase", reference="seed")
    as_operator, as_member = bearer(operator), bearer(a)
    # The system account is created by the first adjustment ever, then cached per process
    # once committed.
    adjustment_request(
        member_id=a.pk, points=1, reason="first", reference="first", requested_by=operator
    )
    for client in (as_operator, as_member):  # looks the token up once (and LISTENs)
        assert client.get("/api/v1/me").status_code == 200

    with CaptureQueriesContext(connection) as earn:
        response = as_operator.post(
            "/api/v1/admin/adjustments",
            {"member": b.member_number, "points": 10, "reason": "bench"},
            content_type="application/json",
        )
    assert response.status_code == 201
    with CaptureQueriesContext(connection) as transfer:
        response = as_member.post(
            "/api/v1/me/transfers",
            {"to": b.member_number, "points": 10, "note": ""},
            content_type="application/json",
        )
    assert response.status_code == 201
    assert response.json()["balance"]["available"] == 991
    assert len(earn) == 1, "\n".join(q["sql"][:90] for q in earn.captured_queries)
    assert len(transfer) == 1, [q["sql"][:80] for q in transfer.captured_queries]


def test_a_phone_wins_over_a_member_number_with_the_same_digits(make_member, operator):
    by_phone, by_number = make_member(), make_member(email="n@example.com", phone=None)
    User.objects.filter(pk=by_number.pk).update(member_number=by_phone.phone)
    response = bearer(operator).post(
        "/api/v1/admin/adjustments",
        {"member": f" {by_phone.phone} ", "points": 5, "reason": "补偿"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert Adjustment.objects.get().member_id == by_phone.pk
    assert balances_of(by_number.pk)["available"] == 0


def test_a_member_number_names_its_member(make_member, operator):
    member = make_member(email="m@example.com", phone=None)
    response = bearer(operator).post(
        "/api/v1/admin/adjustments",
        {"member": member.member_number, "points": 5, "reason": "补偿"},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert response.json()["member_number"] == member.member_number
    assert balances_of(member.pk)["available"] == 5
    unknown = bearer(operator).post(
        "/api/v1/admin/adjustments",
        {"member": "99999999999", "points": 5, "reason": "补偿"},
        content_type="application/json",
    )
    assert unknown.status_code == 404
    assert Adjustment.objects.count() == 1


def _ledger_rows() -> tuple[int, ...]:
    return (
        Transaction.objects.count(),
        Entry.objects.count(),
        Lot.objects.count(),
        LotMovement.objects.count(),
        Adjustment.objects.count(),
        TransferDailyTotal.objects.filter(points__gt=0).count(),
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)  # outside any transaction: the function's own
def test_refusals_outside_a_transaction_write_nothing(make_member, operator, settings):
    """On PostgreSQL a refused posting function undoes its claim (ADR 0006)."""
    a, b = make_member(), make_member()
    points_earn(member_id=a.pk, points=100, source="purchase", reference="seed")
    adjustment_request(
        member_id=a.pk, points=10**6, reason="big", reference="waits", requested_by=operator
    )
    before, balances = _ledger_rows(), (balances_of(a.pk), balances_of(b.pk))
    with pytest.raises(InsufficientPoints):
        points_transfer(sender_id=a.pk, recipient_id=b.pk, points=101, reference="t1")
    settings.JIFEN_TRANSFER_DAILY_LIMIT = 50
    with pytest.raises(ValidationFailed) as refused:
        points_transfer(sender_id=a.pk, recipient_id=b.pk, points=51, reference="t2")
    assert refused.value.code == "transfer_daily_limit"
    with pytest.raises(Conflict):  # the reference of the adjustment waiting for approval
        adjustment_request(
            member_id=b.pk, points=5, reason="small", reference="waits", requested_by=operator
        )
    assert _ledger_rows() == before
    assert (balances_of(a.pk), balances_of(b.pk)) == balances
    # The same references are still free for a posting that passes.
    settings.JIFEN_TRANSFER_DAILY_LIMIT = 1000
    txn = points_transfer(sender_id=a.pk, recipient_id=b.pk, points=100, reference="t1")
    assert txn.sender_summary["available"] == 0
    assert balances_of(b.pk)["available"] == 100


def test_a_refusal_inside_a_transaction_leaves_it_usable(make_member):
    """Inside the caller's transaction (an Idempotency-Key request) a refusal is a savepoint."""
    a, b = make_member(), make_member()
    points_earn(member_id=a.pk, points=100, source="purchase", reference="seed")
    with transaction.atomic():
        with pytest.raises(InsufficientPoints):
            points_transfer(sender_id=a.pk, recipient_id=b.pk, points=101, reference="t1")
        points_transfer(sender_id=a.pk, recipient_id=b.pk, points=40, reference="t1")
    assert balances_of(a.pk)["available"] == 60
    assert balances_of(b.pk)["available"] == 40
    assert Transaction.objects.filter(reference="t1").count() == 1


def test_a_transfer_expires_lots_past_their_date_first(make_member):
    """Lots past their date leave the sender's wallet before the transfer takes its points
    (on PostgreSQL the function then writes nothing and the general path runs)."""
    a, b = make_member(), make_member()
    points_earn(member_id=a.pk, points=100, source="purchase", reference="old")
    points_earn(
        member_id=a.pk, points=50, source="purchase", reference="new", expires_on=D(2099, 1, 31)
    )
    Lot.objects.filter(transaction__reference="old").update(expires_on=D(2000, 1, 1))

    txn = points_transfer(sender_id=a.pk, recipient_id=b.pk, points=30, reference="t")

    assert Transaction.objects.filter(kind=Transaction.Kind.EXPIRE, member_id=a.pk).count() == 1
    assert balances_of(a.pk)["available"] == 20
    assert balances_of(b.pk)["available"] == 30
    assert list(Lot.objects.filter(transaction=txn).values_list("amount", "expires_on")) == [
        (30, D(2099, 1, 31))
    ]
    with pytest.raises(InsufficientPoints):
        points_transfer(sender_id=a.pk, recipient_id=b.pk, points=21, reference="t2")


def test_by_login_answers_in_the_order_of_the_lookup_then_the_service(make_member, operator):
    """The one-statement path (PostgreSQL) refuses exactly as lookup + service do."""
    member = make_member()
    points_earn(member_id=member.pk, points=100, source="purchase", reference="seed")
    as_member, as_operator = bearer(member), bearer(operator)
    before = _ledger_rows()

    def post(client, path, body):
        response = client.post(path, body, content_type="application/json")
        return response.status_code, response.json()["error"]["code"]

    transfers, adjustments = "/api/v1/me/transfers", "/api/v1/admin/adjustments"
    assert post(as_member, transfers, {"to": "19900000000", "points": 0}) == (
        404,
        "recipient_not_found",
    )
    assert post(as_member, transfers, {"to": member.member_number, "points": 5}) == (
        422,
        "transfer_to_self",
    )
    assert post(as_operator, adjustments, {"member": "19900000000", "points": 0, "reason": ""}) == (
        404,
        "member_not_found",
    )
    assert post(as_operator, adjustments, {"member": member.phone, "points": 5, "reason": " "}) == (
        422,
        "reason_required",
    )
    assert _ledger_rows() == before


@pytest.mark.postgres
def test_a_spend_reads_the_first_lots_in_index_order_however_many_the_wallet_has(make_member):
    """The spend-order index is the spending order (expires_on, id): no sort of all lots."""
    member = make_member()
    for n in range(300):
        points_earn(
            member_id=member.pk,
            points=1,
            source="purchase",
            reference=f"e{n}",
            expires_on=D(2099, 1, 1) + dt.timedelta(days=n % 7),
        )
    wallet = Account.objects.get(member_id=member.pk).pk
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_lot")
        cursor.execute(
            "EXPLAIN SELECT id, remaining, expires_on FROM ledger_lot"
            " WHERE account_id = %s AND status = 'available' AND remaining > 0"
            " ORDER BY expires_on ASC NULLS LAST, id ASC LIMIT 20 FOR UPDATE",
            [wallet],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "lot_spend_order_idx" in plan
    assert "Sort" not in plan
