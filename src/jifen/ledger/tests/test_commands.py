import datetime as dt

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from jifen.ledger.models import Account
from jifen.ledger.services import balances_of, points_earn

pytestmark = pytest.mark.django_db


def test_verify_ledger_passes_on_a_sound_ledger(member, capsys):
    points_earn(member_id=member.pk, points=250, source="purchase", reference="e1")
    call_command("verify_ledger")
    out = capsys.readouterr().out
    assert "issued: 250" in out
    assert "outstanding: 250" in out
    assert "all invariants hold" in out


def test_verify_ledger_names_the_tampered_account_and_fails(member, capsys):
    points_earn(member_id=member.pk, points=250, source="purchase", reference="e1")
    wallet = Account.objects.get(member=member)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET available = 200 WHERE id = %s", [wallet.pk])
    with pytest.raises(CommandError, match="invariant violation"):
        call_command("verify_ledger")
    err = capsys.readouterr().err
    assert (
        f"I2 wallet {wallet.pk} (member {member.pk}): cached available 200 != entries 250 "
        "(difference -50)" in err
    )
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_account SET available = 250 WHERE id = %s", [wallet.pk])


def test_expire_points_command(member, capsys):
    points_earn(
        member_id=member.pk,
        points=40,
        source="purchase",
        reference="e1",
        expires_on=dt.date(2026, 1, 31),
    )
    call_command("expire_points", "--today", "2026-02-01")
    assert "expired 40 points" in capsys.readouterr().out
    assert balances_of(member.pk)["available"] == 0
