"""Time in one place: the business day follows settings.TIME_ZONE (Asia/Shanghai by default).

Check-in days, daily limits and expiry dates are business days, not UTC days.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def now() -> dt.datetime:
    return timezone.now()


def business_tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def business_date(at: dt.datetime | None = None) -> dt.date:
    """The business day that `at` (default: now) falls on."""
    return (at or now()).astimezone(business_tz()).date()


def start_of_business_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=business_tz())
