"""The relay log writer: batches keep the order of what happened, on SQLite and PostgreSQL."""

from __future__ import annotations

from contacts_tui.core import maillog
from contacts_tui.core.models import RelayLog
from relay.journal import Journal, LogEntry


async def test_a_burst_of_entries_lands_in_order_with_the_last_status_winning(directory) -> None:
    journal = Journal("relay.test")
    journal.start()
    for number in range(120):
        queue_id = f"{number:016X}"
        journal.received(LogEntry(queue_id=queue_id, sender="billing@shop.example",
                                  recipients=[f"{number}@example.com"], subject=f"Invoice {number}"))
        journal.status(queue_id, "deferred", attempts=1, last_error="451 4.3.0 later")
        if number % 2:
            journal.status(queue_id, "delivered", attempts=2)
    # A job whose caller waits, between the rows: it sees every row queued before it.
    counted = await journal.write(lambda: RelayLog.select().count())
    journal.received(LogEntry(queue_id="F" * 16, sender="", recipients=["late@example.com"]))
    await journal.stop()

    assert counted == 120
    rows = list(reversed(maillog.recent_log(500)))
    assert [r.queue_id for r in rows] == [f"{n:016X}" for n in range(120)] + ["F" * 16]
    assert [r.status for r in rows[:4]] == ["deferred", "delivered", "deferred", "delivered"]
    assert rows[1].attempts == 2 and rows[0].last_error == "451 4.3.0 later"
