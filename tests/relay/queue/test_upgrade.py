"""A spool written by an earlier version of the relay is resumed by this one.

The earlier relay's own code writes the spool (see ``tests/earlier.py``): a
message delivered to one recipient and failed for another, one still
waiting, and a finished one. This version must deliver what waits, never
again what was delivered, and move the old state file to its new name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from relay.queue import Reply, Spool, read_queue

from ...earlier import BEFORE_RELAY_LAYOUT, ROOT, run_earlier

WRITE_WITH_THE_EARLIER_RELAY = """
import asyncio, json, sys
from relay.spool import Envelope, Failure, Spool

async def main(directory):
    spool = Spool(directory)
    message = b"Subject: Invoice 7\\r\\n\\r\\nbody\\r\\n"
    partly = await spool.commit(Envelope("billing@shop.example", ["ok@example.com", "gone@example.com",
                                                                  "later@example.com"], message,
                                         meta={"category": "billing", "sender": "billing@shop.example"}))
    waiting = await spool.commit(Envelope("billing@shop.example", ["new@example.com"], message))
    finished = await spool.commit(Envelope("billing@shop.example", ["done@example.com"], message))
    state = spool.get(partly)
    state.attempts, state.next_attempt, state.last_error = 1, 0.0, "451 4.3.0 try later"
    state.delivered["ok@example.com"] = "250 2.0.0 queued as X"
    state.failed["gone@example.com"] = Failure("550 5.1.1 no such user", "5.1.1")
    state.reported.add("gone@example.com")
    await spool.save(state)
    await spool.finish(spool.get(finished))
    await spool.close()
    print(json.dumps([partly, waiting, finished]))

asyncio.run(main(sys.argv[1]))
"""


async def test_a_spool_of_the_earlier_relay_is_resumed_with_its_delivery_state(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    partly, waiting, finished = json.loads(
        run_earlier(BEFORE_RELAY_LAYOUT, tmp_path, WRITE_WITH_THE_EARLIER_RELAY, str(directory))
    )
    assert (directory / "state.log").exists()

    # Another process lists it as it is, before any relay of this version opened it.
    listing = subprocess.run(
        [sys.executable, "-m", "relay.cli", "queue", "--spool", str(directory), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    listed = {item["queue_id"]: item for item in map(json.loads, listing.stdout.splitlines())}
    assert set(listed) == {partly, waiting}
    assert listed[partly]["pending"] == ["later@example.com"]

    spool = Spool(directory)
    spool.open()
    try:
        by_id = {message.queue_id: message for message in spool.recover()}
        assert set(by_id) == {partly, waiting}
        message = by_id[partly]
        assert message.category == "billing"
        assert message.delivered == {"ok@example.com": Reply(250, "2.0.0 queued as X")}
        assert message.failed["gone@example.com"].status == "5.1.1"
        assert message.reported == {"gone@example.com"} and message.pending == ["later@example.com"]
        assert message.attempts == 1 and message.last_error == "451 4.3.0 try later"
        assert await spool.read_data(message) == b"Subject: Invoice 7\r\n\r\nbody\r\n"
        assert not (directory / "state.log").exists() and (directory / "state.rec").exists()
    finally:
        await spool.close()
    assert {m.queue_id for m in read_queue(directory)} == {partly, waiting}


async def test_the_relay_moves_an_earlier_spool_to_its_first_worker_and_delivers_it(
    tmp_path: Path, sqlite_directory, upstream
) -> None:
    from ..helpers import relay_config, running

    directory = tmp_path / "spool"
    partly, waiting, _ = json.loads(
        run_earlier(BEFORE_RELAY_LAYOUT, tmp_path, WRITE_WITH_THE_EARLIER_RELAY, str(directory))
    )
    async with running(relay_config(tmp_path, upstream), sqlite_directory):
        await upstream.wait_for(2)
    assert sorted(m.recipients for m in upstream.messages) == [("later@example.com",), ("new@example.com",)]
    assert sorted(p.name for p in directory.iterdir()) == ["lock", "worker-1"]
    assert read_queue(directory / "worker-1") == []
