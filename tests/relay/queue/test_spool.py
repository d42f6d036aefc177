"""The durable spool: what was committed comes back after a restart or a kill -9, and nothing else does."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from relay.queue import (
    Failure,
    QueuedMessage,
    Reply,
    Spool,
    SpoolBusy,
    SpoolError,
    new_queue_id,
    read_queue,
    request_delete,
    request_retry_now,
)
from relay.queue.records import KIND_MESSAGE, encode

REPO = Path(__file__).resolve().parents[3]
MESSAGE = b"From: billing@shop.example\r\nSubject: Invoice 42\r\n\r\nYour invoice.\r\n"


async def commit(spool: Spool, *recipients: str, data: bytes = MESSAGE, queue_id: str = "") -> str:
    message = QueuedMessage(queue_id, "billing@shop.example", recipients or ("customer@example.com",))
    return await spool.commit(message, data)


def segments(directory: Path) -> list[str]:
    return sorted(p.name for p in (directory / "seg").iterdir())


async def reopened(directory: Path, **options: int) -> Spool:
    spool = Spool(directory, **options)
    spool.open()
    return spool


async def test_a_commit_comes_back_whole_in_a_fresh_spool(tmp_path: Path) -> None:
    data = "Subject: Grüße\r\n\r\nÄrger mit der Rechnung\r\n".encode()
    spool = Spool(tmp_path / "spool")
    message = QueuedMessage(
        "",
        "",
        ("δοκιμή@example.com", "b@example.com", "b@example.com"),
        smtputf8=True,
        eightbit=True,
        received=1_700_000_000.5,
        category="billing",
    )
    queue_id = await spool.commit(message, data)
    await spool.close()

    again = await reopened(tmp_path / "spool")
    [message] = again.recover()

    assert message.queue_id == queue_id
    assert message.sender == ""
    assert message.recipients == ("δοκιμή@example.com", "b@example.com")
    assert (message.smtputf8, message.eightbit, message.received) == (True, True, 1_700_000_000.5)
    assert message.category == "billing"
    assert message.size == len(data)
    assert await again.read_data(message) == data
    assert (message.attempts, message.pending) == (0, ["δοκιμή@example.com", "b@example.com"])
    await again.close()


async def test_the_copies_of_a_message_are_committed_in_one_write_and_one_fsync(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    await commit(spool)  # a segment to write into, opened and synced already
    before = spool.stats
    copies = [
        (QueuedMessage("", "billing@shop.example", (f"customer{n}@example.com",)), MESSAGE + f"copy {n}\r\n".encode())
        for n in range(3)
    ]
    queue_ids = await spool.commit_all(copies)
    after = spool.stats
    await spool.close()
    assert (after.commits - before.commits, after.commit_batches - before.commit_batches) == (3, 1)
    assert after.commit_fsyncs - before.commit_fsyncs == 1

    again = await reopened(tmp_path / "spool")
    found = {message.queue_id: message for message in again.recover()}
    assert [found[q].recipients for q in queue_ids] == [(f"customer{n}@example.com",) for n in range(3)]
    assert [await again.read_data(found[q]) for q in queue_ids] == [data for _, data in copies]
    await again.close()


async def test_the_spool_directory_is_private(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    await commit(spool)
    await spool.close()

    assert (tmp_path / "spool").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize("tail", ["half a record", "bad body checksum", "zeros"])
async def test_a_torn_record_at_the_end_is_ignored(tmp_path: Path, tail: str) -> None:
    spool = Spool(tmp_path / "spool")
    kept = [await commit(spool, f"c{n}@example.com") for n in range(3)]
    await spool.close()
    [segment] = (tmp_path / "spool" / "seg").iterdir()
    meta = json.dumps({"id": "0" * 16, "from": "", "to": ["x@example.com"], "at": 0}).encode()
    record = encode(KIND_MESSAGE, meta, b"never acknowledged" * 20)
    torn = {
        "half a record": record[: len(record) // 2],
        "bad body checksum": record[:-1] + b"X",
        "zeros": bytes(4096),
    }[tail]
    with open(segment, "ab") as f:
        f.write(torn)

    again = await reopened(tmp_path / "spool")
    assert [m.queue_id for m in again.recover()] == kept
    # New commits go to a new segment, never after the torn tail.
    later = await commit(again, "later@example.com")
    await again.close()
    third = await reopened(tmp_path / "spool")
    assert [m.queue_id for m in third.recover()] == [*kept, later]
    await third.close()


async def test_delivery_state_is_replayed_after_a_restart(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    queue_id = await commit(spool, "ok@example.com", "gone@example.com", "later@example.com")
    message = spool.get(queue_id)
    assert message is not None
    message.attempts = 2
    message.next_attempt = 1_800_000_000.0
    message.last_error = "451 4.3.0 try later"
    message.delivered["ok@example.com"] = Reply(250, "2.0.0 queued")
    message.failed["gone@example.com"] = Failure(Reply(550, "5.1.1 no such user"))
    message.reported.add("gone@example.com")
    await spool.save(message)
    await spool.close()

    again = await reopened(tmp_path / "spool")
    [back] = again.recover()

    assert back.attempts == 2 and back.next_attempt == 1_800_000_000.0
    assert back.last_error == "451 4.3.0 try later"
    assert back.delivered == {"ok@example.com": Reply(250, "2.0.0 queued")}
    assert back.failed == {"gone@example.com": Failure(Reply(550, "5.1.1 no such user"))}
    assert back.reported == {"gone@example.com"}
    assert back.pending == ["later@example.com"]
    await again.close()


async def test_done_and_deleted_messages_do_not_come_back(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    done, deleted, waiting = [await commit(spool) for _ in range(3)]
    await spool.finish(spool.get(done))
    await spool.finish(spool.get(deleted), deleted=True)
    await spool.close()

    again = await reopened(tmp_path / "spool")
    assert [m.queue_id for m in again.recover()] == [waiting]
    assert [item.queue_id for item in read_queue(tmp_path / "spool")] == [waiting]
    await again.close()


async def test_segments_whose_messages_are_all_done_are_deleted(tmp_path: Path) -> None:
    # One byte per segment: every commit batch starts a new segment.
    spool = Spool(tmp_path / "spool", segment_bytes=1)
    first, second, third = [await commit(spool) for _ in range(3)]
    assert len(segments(tmp_path / "spool")) == 3

    await spool.finish(spool.get(first))
    assert len(segments(tmp_path / "spool")) == 2
    await spool.finish(spool.get(third))
    # The segment being written to stays until the writer has moved on.
    assert len(segments(tmp_path / "spool")) == 2
    fourth = await commit(spool)
    assert len(segments(tmp_path / "spool")) == 2
    await spool.close()

    again = await reopened(tmp_path / "spool")
    assert [m.queue_id for m in again.recover()] == [second, fourth]
    await again.close()


async def test_finishing_never_deletes_a_segment_under_a_commit_in_flight(tmp_path: Path, rng: random.Random) -> None:
    # Committers and finishers interleave while segments fill and roll over. A
    # finish can run between a batch's sync and its committers resuming; the
    # segment must already count those commits then, or it looks all done and
    # is deleted under them. (A real loss the kill -9 test found; with the
    # counting done late, this test fails about one run in five.)
    spool = Spool(tmp_path / "spool", segment_bytes=64 * 1024, state_compact_bytes=16 * 1024)
    kept: dict[str, bytes] = {}

    async def worker(n: int) -> None:
        for _ in range(300):
            data = MESSAGE + rng.randbytes(6000).hex().encode()[: rng.randint(0, 12_000)]
            queue_id = await commit(spool, f"c{n}@example.com", data=data)
            if rng.random() < 0.5:
                await spool.finish(spool.get(queue_id))
            else:
                kept[queue_id] = data

    await asyncio.gather(*(worker(n) for n in range(16)))
    await spool.close()

    again = await reopened(tmp_path / "spool")
    recovered = again.recover()
    assert {m.queue_id for m in recovered} == kept.keys()
    for message in recovered:
        assert await again.read_data(message) == kept[message.queue_id]
    await again.close()


async def test_the_state_file_is_compacted_and_stays_correct(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", state_compact_bytes=2048)
    ids = [await commit(spool) for _ in range(5)]
    for attempt in range(1, 60):
        for queue_id in ids:
            message = spool.get(queue_id)
            message.attempts = attempt
            await spool.save(message)
    await spool.finish(spool.get(ids[0]))
    await spool.close()

    assert (tmp_path / "spool" / "state.rec").stat().st_size < 8192
    again = await reopened(tmp_path / "spool")
    assert [(m.queue_id, m.attempts) for m in again.recover()] == [(q, 59) for q in ids[1:]]
    await again.close()


async def test_concurrent_commits_share_one_fsync(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    await asyncio.gather(*(commit(spool, f"c{n}@example.com") for n in range(64)))
    grouped = spool.stats
    for _ in range(5):
        await commit(spool)
    alone = spool.stats
    await spool.close()

    assert grouped.commits == 64
    assert grouped.commit_fsyncs <= 2
    # On its own, every commit still gets its own fsync before it returns.
    assert alone.commit_fsyncs - grouped.commit_fsyncs == 5


async def test_the_receiver_may_name_the_message_before_committing_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    named = new_queue_id()

    assert await commit(spool, queue_id=named) == named
    with pytest.raises(ValueError):
        await commit(spool, queue_id=named)
    with pytest.raises(ValueError):
        await commit(spool, queue_id="../x")
    await spool.close()
    again = await reopened(tmp_path / "spool")
    assert [m.queue_id for m in again.recover()] == [named]
    await again.close()


async def test_a_commit_without_recipients_is_refused(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    with pytest.raises(ValueError):
        await spool.commit(QueuedMessage("", "a@example.com", ()), MESSAGE)
    await spool.close()


async def test_a_closed_spool_refuses_commits_instead_of_reopening(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    await commit(spool)
    await spool.close()

    with pytest.raises(SpoolError, match="closed"):
        await commit(spool)


async def test_a_second_relay_on_the_same_spool_is_refused(tmp_path: Path) -> None:
    owner = await reopened(tmp_path / "spool")
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from relay.queue import Spool; Spool(sys.argv[1]).open()",
            str(tmp_path / "spool"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    with pytest.raises(SpoolBusy) as refused:
        Spool(tmp_path / "spool").open()
    await owner.close()

    message = f"spool {tmp_path / 'spool'} is in use by another relay (pid {os.getpid()})"
    assert child.returncode != 0 and message in child.stderr
    assert str(refused.value) == message
    # Once the owner is gone, the spool can be taken over.
    successor = await reopened(tmp_path / "spool")
    await successor.close()


async def test_another_process_reads_the_queue_while_the_relay_holds_it(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    waiting = await commit(spool, "ok@example.com", "later@example.com")
    fresh = await commit(spool, "new@example.com")
    message = spool.get(waiting)
    message.attempts = 3
    message.next_attempt = 1_800_000_000.0
    message.last_error = "451 4.3.0 try later"
    message.delivered["ok@example.com"] = Reply(250, "ok")
    await spool.save(message)
    request_delete(tmp_path / "spool", fresh)

    # What `contacts-relay queue --json` prints, in a process of its own.
    script = "import sys; from relay.cli import main; sys.exit(main(sys.argv[1:]))"
    child = subprocess.run(
        [sys.executable, "-c", script, "queue", "--spool", str(tmp_path / "spool"), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    await spool.close()

    first, second = [json.loads(line) for line in child.stdout.splitlines()]
    assert first["queue_id"] == waiting
    assert first["pending"] == ["later@example.com"] and first["delivered"] == {"ok@example.com": "250 ok"}
    assert (first["attempts"], first["next_attempt"], first["last_error"]) == (
        3,
        1_800_000_000.0,
        "451 4.3.0 try later",
    )
    assert first["size"] == len(MESSAGE) and not first["delete_requested"]
    assert second["queue_id"] == fresh and second["delete_requested"]


def test_reading_a_spool_that_does_not_exist_lists_nothing(tmp_path: Path) -> None:
    assert read_queue(tmp_path / "nowhere") == []


async def test_admin_commands_wait_in_order_until_applied(tmp_path: Path) -> None:
    spool = await reopened(tmp_path / "spool")
    request_retry_now(tmp_path / "spool")
    request_delete(tmp_path / "spool", "0abc1234def56789")
    (tmp_path / "spool" / "control" / "junk.cmd").write_text("not json")

    commands = spool.commands()

    assert [(c.action, c.queue_id) for c in commands] == [("retry-now", None), ("delete", "0ABC1234DEF56789")]
    assert not (tmp_path / "spool" / "control" / "junk.cmd").exists()
    for command in commands:
        spool.remove_command(command)
    assert spool.commands() == []
    await spool.close()


def test_admin_commands_check_their_input(tmp_path: Path) -> None:
    with pytest.raises(SpoolError, match="there is no spool"):
        request_retry_now(tmp_path / "nowhere")
    (tmp_path / "spool").mkdir()
    with pytest.raises(ValueError):
        request_delete(tmp_path / "spool", "../../etc/passwd")


# -- kill -9 -------------------------------------------------------------------


def crash_child_main() -> None:
    """Commit and finish messages as fast as possible, printing each id once that returned.

    Run by the crash test (and tests/bench/bench_spool.py) in a child process
    that is killed with SIGKILL at a random moment. Small segments and a small
    state file limit make rollover, segment deletion and compaction happen
    often, so the kill can hit any of them.
    """

    async def run(directory: str, seed: int) -> None:
        spool = Spool(directory, segment_bytes=64 * 1024, state_compact_bytes=16 * 1024)
        spool.open()
        rng = random.Random(seed)

        def say(*words: str) -> None:
            # One write(2) per line: a pipe write this small is atomic, so a
            # kill cannot leave half a line behind.
            os.write(1, (" ".join(words) + "\n").encode())

        say("ready")

        async def worker(n: int) -> None:
            while True:
                data = MESSAGE + rng.randbytes(rng.randint(0, 12_000)).hex().encode()[: rng.randint(0, 12_000)]
                queue_id = await commit(spool, f"c{n}@example.com", data=data)
                say("committed", queue_id)
                if rng.random() < 0.5:
                    # Said before finishing: a kill can land after the done
                    # record is on disk but before "done" is printed.
                    say("finishing", queue_id)
                    await spool.finish(spool.get(queue_id))
                    say("done", queue_id)

        await asyncio.gather(*(worker(n) for n in range(16)))

    asyncio.run(run(sys.argv[1], int(sys.argv[2])))


def kill_and_recover(directory: Path, lines_before_kill: int, seed: int = 0) -> dict[str, int]:
    """One crash run: counts of messages committed, done, being finished, recovered, lost and resurrected.

    Lost: acknowledged, not being finished, yet not recovered. Resurrected:
    reported done, yet recovered. A message whose finish was under way when
    the kill came may legitimately end up either way.
    """
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tests.relay.queue.test_spool import crash_child_main; crash_child_main()",
            str(directory),
            str(seed),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    lines = []
    for _ in range(lines_before_kill):
        lines.append(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    lines += child.stdout.readlines()  # what was printed before the kill landed
    child.wait()
    said = [line.split() for line in lines if line.endswith("\n") and len(line.split()) == 2]
    committed = {queue_id for word, queue_id in said if word == "committed"}
    finishing = {queue_id for word, queue_id in said if word == "finishing"}
    done = {queue_id for word, queue_id in said if word == "done"}

    async def recover() -> tuple[set[str], int]:
        spool = Spool(directory)
        messages = spool.recover()
        unreadable = 0
        for message in messages:
            try:
                await spool.read_data(message)
            except SpoolError:
                unreadable += 1
        await spool.close()
        return {m.queue_id for m in messages}, unreadable

    recovered, unreadable = asyncio.run(recover())
    return {
        "committed": len(committed),
        "done": len(done),
        "finishing": len(finishing - done),
        "recovered": len(recovered),
        "lost": len(committed - finishing - recovered),
        "resurrected": len(done & recovered),
        "unreadable": unreadable,
    }


@pytest.mark.slow
@pytest.mark.parametrize("run", range(5))
def test_kill_9_loses_no_acknowledged_commit(tmp_path: Path, run: int, rng: random.Random) -> None:
    # The seed fixes what the child commits and when it is killed; where the
    # kill lands among its writes is the machine's timing.
    counts = kill_and_recover(tmp_path / "spool", rng.randint(20, 3000), rng.randrange(2**32))
    print(f"kill -9 run {run}: {counts}")

    assert counts["committed"] > 0
    assert counts["lost"] == 0
    assert counts["resurrected"] == 0
    assert counts["unreadable"] == 0


async def test_failed_commits_on_a_full_disk_leave_no_empty_segments_behind(tmp_path: Path) -> None:
    import resource

    spool = Spool(tmp_path / "spool")
    first = await commit(spool)
    big = MESSAGE + b"x" * 200_000
    # A file size limit makes writes fail as a full disk does (EFBIG instead of ENOSPC).
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, hard))
    try:
        for _ in range(3):
            with pytest.raises(SpoolError, match="could not write the spool"):
                await commit(spool, data=big)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    # The segment holding the first message stays; the ones opened for the failed commits are gone.
    assert segments(tmp_path / "spool") == ["0000000001.seg"]
    second = await commit(spool)
    await spool.close()

    again = await reopened(tmp_path / "spool")
    assert [m.queue_id for m in again.recover()] == [first, second]
    assert all(os.path.getsize(tmp_path / "spool" / "seg" / name) > 0 for name in segments(tmp_path / "spool"))
    await again.close()
