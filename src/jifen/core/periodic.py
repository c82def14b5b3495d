"""The beat schedule without Celery beat: run the periodic jobs that are due, once.

One-machine mode (`make demo`, no Redis) has no broker, so no beat and no worker; the
Makefile's `serve` calls `jifen run-due-jobs` every minute instead, and cron can do the
same on a small installation. Each job's last run is kept in a JSON file under var/, and a
job runs when its schedule (CELERY_BEAT_SCHEDULE: seconds or a crontab) says it is due
since then. Every job is safe to run twice (each posting and state change is once-only),
so a crash between a job and the file write costs a repeat, never a double effect.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

from celery.schedules import crontab, schedule
from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)


def _state_path() -> Path:
    return Path(settings.VAR_DIR) / "periodic-jobs.json"


def _schedule_of(entry: dict):
    every = entry["schedule"]
    if isinstance(every, crontab | schedule):
        return every
    return schedule(run_every=dt.timedelta(seconds=float(every)))


def jobs_due(*, now: dt.datetime | None = None, state: dict | None = None) -> list[str]:
    """Names of the CELERY_BEAT_SCHEDULE entries due at `now` given their last runs."""
    now = now or timezone.now()
    state = _load() if state is None else state
    due = []
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        last = state.get(name)
        if last is None:
            due.append(name)
            continue
        every = _schedule_of(entry)
        every.nowfun = lambda: now
        if every.is_due(dt.datetime.fromisoformat(last)).is_due:
            due.append(name)
    return due


def jobs_run_due(*, now: dt.datetime | None = None) -> dict[str, str]:
    """Run the due jobs in this process, in schedule order; returns {name: "ok" | error}.
    A failing job is logged and retried on the next call; the others still run."""
    from jifen.config.celery import app

    app.loader.import_default_modules()  # the apps' tasks modules (autodiscovery is lazy)
    now = now or timezone.now()
    state = _load()
    results = {}
    for name in jobs_due(now=now, state=state):
        task = app.tasks[settings.CELERY_BEAT_SCHEDULE[name]["task"]]
        try:
            task.apply(throw=True)
        except Exception as error:  # the job's own services report what went wrong
            logger.exception("periodic job %s failed", name)
            results[name] = f"{type(error).__name__}: {error}"
            continue
        state[name] = now.isoformat()
        results[name] = "ok"
    _save(state)
    return results


def _load() -> dict:
    try:
        return json.loads(_state_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}


def _save(state: dict) -> None:
    path = _state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    tmp.replace(path)  # atomic: a reader never sees half a file
