import datetime as dt
from zoneinfo import ZoneInfo

import pytest

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def at(monkeypatch):
    """Set the clock to a wall time in Asia/Shanghai: at(2026, 11, 2, 23, 59)."""

    def set_clock(year, month, day, hour=12, minute=0, second=0):
        moment = dt.datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)
        monkeypatch.setattr("jifen.core.clock.now", lambda: moment)
        return moment

    return set_clock


@pytest.fixture
def config(db):
    from jifen.engagement.services import engagement_config

    return engagement_config()


@pytest.fixture
def set_config(config):
    """Change the settings through the service: set_config(weekend_factor="1")."""
    from jifen.engagement.services import engagement_config_update

    def change(**values):
        return engagement_config_update(values=values)

    return change


@pytest.fixture
def make_task(db):
    from jifen.engagement.models import Task
    from jifen.engagement.services import task_save

    def make(code, **fields):
        fields.setdefault("title", code)
        fields.setdefault("evidence", Task.Evidence.EVENT)
        fields.setdefault("action", "survey_completed" if fields["evidence"] == "event" else "")
        fields.setdefault("points", 10)
        fields.setdefault("period", Task.Period.DAY)
        fields.setdefault("cap", 1)
        return task_save(task=Task(code=code, **fields))

    return make
