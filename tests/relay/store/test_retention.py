"""The relay log keeps --log-retention days of entries, so it cannot grow for ever."""

from __future__ import annotations

import asyncio
import datetime as dt

from contacts_tui.core.mail import relay_log
from contacts_tui.core.models import RelayLog, utcnow

from ...waiting import wait_until
from ..helpers import relay_config, running


def _entry(queue_id: str, age: dt.timedelta) -> None:
    when = utcnow() - age
    RelayLog.create(queue_id=queue_id, received_at=when, updated_at=when, status="delivered", decision="unchanged")


async def test_entries_older_than_the_retention_are_deleted_and_newer_ones_kept(sqlite_directory, tmp_path):
    _entry("OLD1", dt.timedelta(days=40))
    _entry("OLD2", dt.timedelta(days=31))
    _entry("NEW1", dt.timedelta(days=29))
    async with running(relay_config(tmp_path, log_retention_days=30), sqlite_directory):
        await wait_until(lambda: relay_log.log_for_queue_id("OLD2") is None)
    assert relay_log.log_for_queue_id("OLD1") is None
    assert relay_log.log_for_queue_id("NEW1") is not None


async def test_a_retention_of_zero_keeps_every_entry(sqlite_directory, tmp_path):
    _entry("ANCIENT", dt.timedelta(days=4000))
    async with running(relay_config(tmp_path, log_retention_days=0), sqlite_directory) as relay:
        await asyncio.sleep(0)  # a pruning task, if one were started, runs its first round now
        await relay.log_writer.write(lambda: None)  # everything queued before it is written
    assert relay_log.log_for_queue_id("ANCIENT") is not None
