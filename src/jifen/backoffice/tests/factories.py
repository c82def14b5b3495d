"""Postings at chosen moments, for back-office tests (timestamps come from timezone.now)."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from unittest import mock
from zoneinfo import ZoneInfo

from jifen.ledger.models import Account, Adjustment, Entry, Hold, Lot, LotMovement, Transaction

SHANGHAI = ZoneInfo("Asia/Shanghai")


def sh(year, month, day, hour=12, minute=0) -> dt.datetime:
    """A moment given in Shanghai (business) time."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


@contextmanager
def at(moment: dt.datetime):
    """Everything inside happens at `moment` (auto_now_add fields, the business day)."""
    with mock.patch("django.utils.timezone.now", return_value=moment.astimezone(dt.UTC)):
        yield


def ledger_state() -> tuple:
    """Everything a failed back-office request must leave unchanged."""
    return (
        Transaction.objects.count(),
        Entry.objects.count(),
        Lot.objects.count(),
        LotMovement.objects.count(),
        Hold.objects.count(),
        list(Adjustment.objects.order_by("pk").values_list("pk", "status", "transaction_id")),
        list(Account.objects.order_by("pk").values_list("pk", "available", "pending", "held")),
        list(Lot.objects.order_by("pk").values_list("pk", "remaining")),
    )


def balances(member) -> tuple[int, int, int]:
    wallet = Account.objects.get(member=member)
    return wallet.available, wallet.pending, wallet.held
