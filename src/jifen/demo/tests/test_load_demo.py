import datetime as dt

import pytest
from django.core.management import call_command

from jifen.demo import data
from jifen.ledger.models import Adjustment, Hold, Lot, Transaction
from jifen.ledger.selectors import points_summary
from jifen.ledger.verification import ledger_verify
from jifen.members.models import Address, User

pytestmark = pytest.mark.django_db

MEMBERS, DAYS = 12, 40


def test_personas_are_reproducible():
    first = data.make_personas(30, seed=7)
    again = data.make_personas(30, seed=7)
    assert [(p.name, p.phone, p.email) for p in first] == [
        (p.name, p.phone, p.email) for p in again
    ]
    assert first[0].phone == data.DEMO_PHONE
    logins = [p.phone or p.email for p in first]
    assert len(set(logins)) == len(logins)
    assert any(p.email and p.email.endswith("@example.com") for p in first)  # English names
    assert any(p.phone and not p.email for p in first)  # Chinese names with phones


def test_load_demo_creates_members_and_a_verified_history(capsys):
    call_command("load_demo", "--members", str(MEMBERS), "--days", str(DAYS))
    out = capsys.readouterr().out
    assert "ledger verified" in out
    assert "13800138000" in out and "admin@jifen.local" in out and "http://" in out

    # The demo members, and the friend the demo member invited.
    assert User.objects.filter(is_staff=False).count() == MEMBERS + 1
    demo = User.objects.get(phone=data.DEMO_PHONE)
    assert demo.check_password(data.DEMO_PASSWORD)
    admin = User.objects.get(email=data.ADMIN_EMAIL)
    assert admin.is_staff and admin.is_superuser and admin.check_password(data.ADMIN_PASSWORD)
    ops = User.objects.get(email=data.OPS_EMAIL)
    assert ops.is_staff and not ops.is_superuser and ops.check_password(data.OPS_PASSWORD)
    assert Address.objects.filter(member=demo).exists()

    # The demo member's history: earning, spending, holds, pending and soon-expiring points.
    kinds = set(Transaction.objects.filter(member=demo).values_list("kind", flat=True))
    assert {"earn", "spend", "hold", "mature", "expire"} <= kinds
    summary = points_summary(member_id=demo.pk)
    assert summary["available"] > 0 and summary["pending"] > 0 and summary["held"] > 0
    assert summary["next_expiry"]["date"] - dt.date.today() < dt.timedelta(days=20)
    assert Hold.objects.filter(member=demo, status=Hold.Status.HELD).exists()
    assert Adjustment.objects.filter(
        member=demo, status=Adjustment.Status.PENDING_APPROVAL, points__gt=10000
    ).exists()
    assert Lot.objects.filter(member_id=demo.pk, status=Lot.Status.PENDING).exists()

    # History is backdated across the window, and every posting came through the services.
    created = Transaction.objects.filter(reference__startswith="demo:").values_list(
        "created_at", flat=True
    )
    span = max(created) - min(created)
    assert span > dt.timedelta(days=DAYS - 3)
    assert ledger_verify().ok


def test_loading_twice_changes_nothing():
    data.load_demo(members=MEMBERS, days=DAYS, log=lambda line: None)
    before = data.demo_summary()
    result = data.load_demo(members=MEMBERS, days=DAYS, log=lambda line: None)
    assert data.demo_summary() == before
    assert result.members_created == 0
    assert result.days_posted == 0 and result.days_skipped == DAYS
    assert result.report.ok


def test_a_larger_rerun_tops_up_members_only():
    data.load_demo(members=MEMBERS, days=DAYS, log=lambda line: None)
    before = data.demo_summary()
    result = data.load_demo(members=MEMBERS + 3, days=DAYS, log=lambda line: None)
    assert result.members_created == 3
    assert User.objects.filter(is_staff=False).count() == MEMBERS + 3
    after = data.demo_summary()
    assert after["transactions"] == before["transactions"]  # the history is not posted twice
    assert result.report.ok


def test_load_demo_fills_the_other_apps_once(capsys):
    from jifen.catalog.models import Item
    from jifen.engagement.models import Checkin, Task
    from jifen.referrals.models import CodeBatch, Referral
    from jifen.tiers.models import MemberTier

    call_command("load_demo", "--members", str(MEMBERS), "--days", str(DAYS))
    out = capsys.readouterr().out
    assert "demo invite code" in out and "product code (20 pts)" in out

    def counts():
        return (
            Task.objects.count(),
            Checkin.objects.count(),
            Referral.objects.count(),
            CodeBatch.objects.count(),
            Item.objects.count(),
            MemberTier.objects.count(),
            Transaction.objects.count(),
        )

    first = counts()
    assert first[0] == 6 and first[2] == 1 and first[3] == 1 and first[4] > 0
    call_command("load_demo", "--members", str(MEMBERS), "--days", str(DAYS))
    assert counts() == first
