import sys

import pytest

from jifen import cli
from jifen.config.celery import app as celery_app
from jifen.ledger.services import balances_of, points_earn
from jifen.ledger.tasks import points_expire_task, points_mature_task


def test_jifen_command_turns_dashes_into_command_names(monkeypatch, capsys, db):
    monkeypatch.setattr(sys, "argv", ["jifen", "verify-ledger"])
    # A command run from the command line closes every connection when it ends; the test's
    # own (inside its transaction) must stay open.
    monkeypatch.setattr("django.db.connections.close_all", lambda: None)
    cli.main()
    assert "all invariants hold" in capsys.readouterr().out


def test_beat_schedules_the_ledger_jobs():
    celery_app.loader.import_default_modules()
    schedule = celery_app.conf.beat_schedule
    assert schedule["points-expire"]["task"] == "jifen.ledger.tasks.points_expire_task"
    assert schedule["points-mature"]["task"] == "jifen.ledger.tasks.points_mature_task"
    assert schedule["tiers-daily"]["task"] == "jifen.tiers.tasks.tiers_daily_task"
    assert "jifen.tiers.tasks.tiers_daily_task" in celery_app.tasks
    assert {
        "jifen.ledger.tasks.points_expire_task",
        "jifen.ledger.tasks.points_mature_task",
    } <= set(celery_app.tasks)


@pytest.mark.django_db
def test_tasks_run_inline_without_a_broker(member, settings):
    import datetime as dt

    points_earn(
        member_id=member.pk,
        points=30,
        source="purchase",
        reference="e1",
        expires_on=dt.date(2000, 1, 1),
    )
    if settings.CELERY_TASK_ALWAYS_EAGER:
        assert points_mature_task.delay().get() == 0
        assert points_expire_task.delay().get() == 30
    else:  # with a broker the task body is the same function; call it directly
        assert points_mature_task() == 0
        assert points_expire_task() == 30
    assert balances_of(member.pk)["available"] == 0
