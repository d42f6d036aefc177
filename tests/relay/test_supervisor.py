"""``contacts-relay serve --workers N``: every core used, one address, a spool per worker,
and no message lost when a worker dies or the number of workers changes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from ..waiting import poll
from .helpers import reliability
from .helpers.reliability import Outcome, Senders, count_delivered, free_port, relay_process, seeded_database

pytestmark = pytest.mark.slow  # real processes killed and restarted, minutes of mail


def workers_of(pid: int) -> list[int]:
    """The child processes of ``pid`` (its workers), from /proc."""
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry))
    return sorted(children)


def test_a_worker_killed_mid_stream_is_started_again_and_nothing_is_lost(tmp_path, upstream):
    db = seeded_database(tmp_path)
    port = free_port()
    outcome = Outcome("a worker killed")
    with reliability.serving(relay_process(db, tmp_path, upstream, port, "--workers", "2"), outcome) as relay:
        first = poll(lambda: len(workers_of(relay.process.pid)) == 2 and workers_of(relay.process.pid), 10)
        senders = Senders(lambda: port, reliability.tags("worker", 200), sessions=8, seconds=3, tries=100).start()
        poll(lambda: len(senders.accepted) >= 40, 20)
        os.kill(first[0], signal.SIGKILL)
        senders.join()
        again = poll(lambda: len(workers_of(relay.process.pid)) == 2 and workers_of(relay.process.pid), 20)
        count_delivered(outcome, upstream, senders)
    assert first[0] not in again and first[1] in again
    assert outcome.accepted == 200 and outcome.lost == 0 and outcome.without_contacts == 0
    assert "worker" in relay.output and "exited with signal 9" in relay.output
    assert sorted(p.name for p in (tmp_path / "spool").iterdir() if p.is_dir()) == ["worker-1", "worker-2"]


def test_fewer_workers_than_before_still_deliver_what_the_others_left(tmp_path, upstream, capsys):
    from .helpers import run_cli

    db = seeded_database(tmp_path)
    port = free_port()
    upstream.stop()  # nothing can be delivered yet: it all waits in the workers' spools
    outcome = Outcome("more workers, then fewer")
    with reliability.serving(relay_process(db, tmp_path, upstream, port, "--workers", "3"), outcome):
        senders = Senders(lambda: port, reliability.tags("fewer", 60), sessions=6, seconds=1).start()
        senders.join()
    assert len(senders.accepted) == 60
    code, out, _ = run_cli(capsys, "queue", "--spool", str(tmp_path / "spool"))
    assert code == 0 and out.count("waiting for") == 60
    waiting = {p.name for p in (tmp_path / "spool").iterdir() if p.is_dir()}
    assert waiting == {"worker-1", "worker-2", "worker-3"}

    upstream.start()
    with reliability.serving(relay_process(db, tmp_path, upstream, port, "--workers", "1"), outcome):
        count_delivered(outcome, upstream, senders)
    assert outcome.delivered == 60 and outcome.lost == 0 and outcome.duplicated == 0


def test_sighup_reaches_every_worker(tmp_path, upstream):
    db = seeded_database(tmp_path)
    port = free_port()
    outcome = Outcome("reload")
    with reliability.serving(relay_process(db, tmp_path, upstream, port, "--workers", "2"), outcome) as relay:
        poll(lambda: len(workers_of(relay.process.pid)) == 2, 10)
        relay.send_signal(signal.SIGHUP)
        poll(lambda: relay.output.count("SIGHUP: nothing to reload") == 2, 10, lambda: relay.output)
        assert relay.process.poll() is None
    assert outcome.crashes == 0


def test_killing_the_supervisor_takes_its_workers_along(tmp_path, upstream):
    db = seeded_database(tmp_path)
    port = free_port()
    relay = relay_process(db, tmp_path, upstream, port, "--workers", "2").start()
    try:
        workers = poll(lambda: len(workers_of(relay.process.pid)) == 2 and workers_of(relay.process.pid), 10)
        relay.kill()
        poll(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers), 10)
    finally:
        relay.stop()
    # Their spools are free for the next start.
    again = relay_process(db, tmp_path, upstream, port, "--workers", "2").start()
    try:
        # Started: its first line comes only once both workers hold their spools.
        assert again.process.poll() is None
    finally:
        again.stop()
