"""Races on PostgreSQL: 50 threads released at once (the run_concurrently fixture)."""

import pytest

from jifen.core.errors import Conflict
from jifen.ledger.models import Transaction
from jifen.ledger.services import balances_of
from jifen.referrals import services
from jifen.referrals.codes_models import ProductCode
from jifen.referrals.codes_services import code_redeem
from jifen.referrals.models import InviteCode, Referral, ReferrerMonth

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_one_code_fifty_members_exactly_one_earn(batch, make_member, run_concurrently):
    members = [make_member() for _ in range(50)]
    code = batch.plain[0]

    results = run_concurrently(
        lambda i: code_redeem(member_id=members[i].pk, code=code, ip=f"10.0.0.{i}"), 50
    )

    ok = [r[1] for r in results if r[0] == "ok"]
    errors = [r[1] for r in results if r[0] == "error"]
    assert len(ok) == 1
    assert len(errors) == 49
    assert all(isinstance(e, Conflict) and e.code == "code_used" for e in errors)
    earns = Transaction.objects.filter(kind="earn", details__source="product_code")
    assert earns.count() == 1
    winner = ProductCode.objects.get(batch=batch, serial=1).redeemed_by_id
    assert earns.get().member_id == winner
    assert sum(balances_of(m.pk)["available"] for m in members) == 20


def test_fifty_invitees_at_once_respect_the_monthly_cap(
    referrer, invite_code, make_member, run_concurrently
):
    services.referral_program_update(data={"monthly_cap": 10, "lifetime_cap": 100})
    invitees = [make_member() for _ in range(50)]

    results = run_concurrently(
        lambda i: services.referral_register(invitee=invitees[i], invite_code=invite_code), 50
    )

    assert all(r[0] == "ok" for r in results), [r for r in results if r[0] != "ok"][:3]
    assert Referral.objects.filter(status="rewarded").count() == 50
    assert Referral.objects.filter(referrer_points=50).count() == 10
    assert Referral.objects.filter(reason="capped").count() == 40
    assert balances_of(referrer.pk)["available"] == 500
    assert ReferrerMonth.objects.get(referrer=referrer).rewarded == 10
    assert InviteCode.objects.get(member=referrer).rewarded_total == 10
    assert sum(balances_of(i.pk)["available"] for i in invitees) == 2500


def test_one_invitee_registered_fifty_times_is_rewarded_once(
    referrer, invite_code, make_member, run_concurrently
):
    invitee = make_member()

    results = run_concurrently(
        lambda i: services.referral_register(invitee=invitee, invite_code=invite_code), 50
    )

    assert all(r[0] == "ok" for r in results)
    assert len({r[1].pk for r in results}) == 1
    assert Referral.objects.count() == 1
    assert balances_of(referrer.pk)["available"] == 50
    assert balances_of(invitee.pk)["available"] == 50


def test_fifty_approvals_of_one_flagged_referral_pay_once(
    referrer, invite_code, make_member, operator, run_concurrently
):
    services.fingerprint_record(member_id=referrer.pk, ip="10.9.9.9")
    invitee = make_member()
    referral = services.referral_register(invitee=invitee, invite_code=invite_code, ip="10.9.9.9")
    assert referral.status == "review"

    results = run_concurrently(
        lambda i: services.referral_review(
            referral_id=referral.pk, approve=i % 2 == 0, reviewed_by=operator
        ),
        50,
    )

    assert sum(1 for r in results if r[0] == "ok") == 1
    final = Referral.objects.get(pk=referral.pk)
    paid = Transaction.objects.filter(details__referral=referral.pk).count()
    if final.status == "rewarded":
        assert balances_of(referrer.pk)["available"] == 50
        assert balances_of(invitee.pk)["available"] == 50
        assert paid == 2
    else:
        assert final.status == "rejected"
        assert balances_of(referrer.pk)["available"] == 0
        assert paid == 0
