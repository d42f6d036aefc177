"""Stored times (naive UTC) as people read them: in their own time zone, labelled."""

from __future__ import annotations

import datetime as dt


def local(moment: dt.datetime) -> dt.datetime:
    """A stored naive-UTC time in the local zone."""
    return moment.replace(tzinfo=dt.UTC).astimezone()


def short_time(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    """HH:MM:SS today, MM-DD HH:MM before: the seconds matter while testing."""
    when = local(moment)
    today = (now or dt.datetime.now().astimezone()).date()
    return when.strftime("%H:%M:%S") if when.date() == today else when.strftime("%m-%d %H:%M")


def zone_name(when: dt.datetime) -> str:
    """CET, UTC, or +0530 where the zone has no abbreviation."""
    name = when.strftime("%Z")
    if when.utcoffset() == dt.timedelta(0):
        return "UTC"
    return name if name and name[0].isalpha() else when.strftime("%z")


def local_time(moment: dt.datetime | None, *, date: bool = True) -> str:
    """'2026-01-05 11:00:00 CET': local time with its zone, so nobody takes UTC for local or back."""
    if moment is None:
        return "-"
    when = local(moment)
    return when.strftime("%Y-%m-%d %H:%M:%S " if date else "%H:%M:%S ") + zone_name(when)


def from_epoch(seconds: float) -> dt.datetime:
    """A spool timestamp (seconds since the epoch) as a stored time, naive UTC."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)


def local_time_soon(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    """For times near now (a next retry): the time alone today, with the date on any other day."""
    today = (now or dt.datetime.now().astimezone()).date()
    return local_time(moment, date=local(moment).date() != today)
