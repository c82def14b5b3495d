"""`jifen run-due-jobs`: the beat schedule run from cron or `make serve` without Celery beat."""

import datetime as dt
import json

import pytest
from celery.schedules import crontab
from django.core.management import call_command

from jifen.core.periodic import jobs_due, jobs_run_due

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def schedule(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.CELERY_BEAT_SCHEDULE = {
        "points-expire": {"task": "jifen.ledger.tasks.points_expire_task", "schedule": 60.0},
        "tiers-daily": {
            "task": "jifen.tiers.tasks.tiers_daily_task",
            "schedule": crontab(hour=0, minute=30),
        },
    }
    return tmp_path


def test_every_job_is_due_the_first_time(schedule):
    assert jobs_due(now=NOW, state={}) == ["points-expire", "tiers-daily"]


def test_interval_and_crontab_jobs_come_due_on_their_schedules(schedule):
    state = {"points-expire": NOW.isoformat(), "tiers-daily": NOW.isoformat()}
    assert jobs_due(now=NOW + dt.timedelta(seconds=30), state=state) == []
    assert jobs_due(now=NOW + dt.timedelta(seconds=61), state=state) == ["points-expire"]
    tomorrow = dt.datetime(2026, 12, 2, 0, 31, tzinfo=SHANGHAI)
    assert jobs_due(now=tomorrow, state=state) == ["points-expire", "tiers-daily"]


@pytest.mark.django_db
def test_run_records_each_job_and_a_second_run_does_nothing(schedule, capsys):
    assert jobs_run_due(now=NOW) == {"points-expire": "ok", "tiers-daily": "ok"}
    state = json.loads((schedule / "periodic-jobs.json").read_text())
    assert state == {"points-expire": NOW.isoformat(), "tiers-daily": NOW.isoformat()}
    assert jobs_run_due(now=NOW + dt.timedelta(seconds=5)) == {}


@pytest.mark.django_db
def test_a_failing_job_is_reported_and_retried_next_time(schedule, settings):
    settings.CELERY_BEAT_SCHEDULE["broken"] = {
        "task": "jifen.ledger.tasks.points_expire_task",
        "schedule": 60.0,
    }
    from jifen.config.celery import app

    task = app.tasks["jifen.ledger.tasks.points_expire_task"]
    original = task.run
    task.run = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("database away"))
    try:
        results = jobs_run_due(now=NOW)
    finally:
        task.run = original
    assert results["broken"] == "RuntimeError: database away"
    assert "broken" not in json.loads((schedule / "periodic-jobs.json").read_text())
    assert jobs_run_due(now=NOW)["broken"] == "ok"


@pytest.mark.django_db
def test_the_command_prints_what_ran(schedule, capsys):
    call_command("run_due_jobs")
    out = capsys.readouterr().out
    assert "points-expire: ok" in out and "tiers-daily: ok" in out
