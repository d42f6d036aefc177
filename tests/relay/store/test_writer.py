"""The relay log writer: batches keep the order of what happened, on SQLite and PostgreSQL."""

from __future__ import annotations

from contacts_tui.core.mail import relay_log
from contacts_tui.core.mail.relay_log import LogEntry
from contacts_tui.core.models import RelayLog
from relay.store.writer import LogWriter


async def test_a_burst_of_entries_lands_in_order_with_the_last_status_winning(directory) -> None:
    log_writer = LogWriter("relay.test")
    log_writer.start()
    for number in range(120):
        queue_id = f"{number:016X}"
        log_writer.received(
            LogEntry(
                queue_id=queue_id,
                sender="billing@shop.example",
                recipients=[f"{number}@example.com"],
                subject=f"Invoice {number}",
            )
        )
        log_writer.status(queue_id, "deferred", attempts=1, last_error="451 4.3.0 later")
        if number % 2:
            log_writer.status(queue_id, "delivered", attempts=2, last_error="")
    # A job whose caller waits, between the rows: it sees every row queued before it.
    counted = await log_writer.write(lambda: RelayLog.select().count())
    log_writer.received(LogEntry(queue_id="F" * 16, sender="", recipients=["late@example.com"]))
    await log_writer.stop()

    assert counted == 120
    rows = list(reversed(relay_log.recent_log(500)))
    assert [r.queue_id for r in rows] == [f"{n:016X}" for n in range(120)] + ["F" * 16]
    assert [r.status for r in rows[:4]] == ["deferred", "delivered", "deferred", "delivered"]
    assert rows[1].attempts == 2 and rows[0].last_error == "451 4.3.0 later"


async def test_a_database_that_cannot_be_written_is_retried_and_the_wait_is_printed_as_it_is(
    sqlite_directory, sqlite_url, caplog
) -> None:
    import sqlite3
    from urllib.parse import urlsplit

    from ...waiting import wait_until

    table = RelayLog._meta.table_name
    admin = sqlite3.connect(urlsplit(sqlite_url).path[1:], isolation_level=None)
    admin.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
    log_writer = LogWriter("relay.test")
    log_writer.start()
    try:
        with caplog.at_level("WARNING", logger="relay.store"):
            log_writer.received(
                LogEntry(queue_id="A" * 16, sender="billing@shop.example", recipients=["a@example.com"])
            )
            await wait_until(lambda: "retrying in" in caplog.text)
        admin.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
        await log_writer.stop()
    finally:
        admin.close()

    assert "cannot write to the database" in caplog.text and "retrying in 0.5 s" in caplog.text
    assert [r.queue_id for r in relay_log.recent_log(5)] == ["A" * 16]
